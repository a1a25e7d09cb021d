/**
 * @internal One Langfuse trace per root run, for `langfuse-langchain` (v3).
 *
 * The v3 handler keeps a single `traceId` per instance: every root run overwrites it, and every later event
 * of any run is sent with it. Runs in flight together through one handler then mix: a run's generations
 * land in whichever trace started last. This map keeps each run's trace (its root's id, as the v3 handler
 * would have named it), so the handler can be pointed at the right trace before each event.
 */
export class RunTraces {
  private readonly traces = new Map<string, string>();

  /**
   * A run starts. Its trace is its parent's; a run whose parent this handler never saw (a root run) opens
   * its own, named after its id. `undefined` when the run neither joins nor opens one (a tool called on its
   * own): the v3 handler then keeps its current trace.
   */
  start(runId: string, parentRunId: string | undefined, opensTrace: boolean): { traceId: string; opened: boolean } | undefined {
    const inherited = this.traces.get(runId) ?? (parentRunId === undefined ? undefined : this.traces.get(parentRunId));
    if (inherited !== undefined) {
      this.traces.set(runId, inherited);
      return { traceId: inherited, opened: false };
    }
    if (!opensTrace) return undefined;
    this.traces.set(runId, runId);
    return { traceId: runId, opened: true };
  }

  /** The trace of a run that started, if this handler saw it start. */
  of(runId: string): string | undefined {
    return this.traces.get(runId);
  }

  /** A run ended: its children have ended before it, nothing will ask for its trace again. */
  end(runId: string): void {
    this.traces.delete(runId);
  }
}
