import type { CostRecord } from "./cost-record.js";

/**
 * @internal The records a budget handler keeps of plain (unmetered) models' calls, by LangChain run id, for
 * tracers (LangSmith, Langfuse) that end the same run: they wait for the budget's figure instead of pricing the
 * call again, whichever of the handlers LangChain runs first. Bounded: the oldest entries go first.
 */
const records = new Map<string, { promise: Promise<CostRecord | undefined>; resolve: (record: CostRecord | undefined) => void }>();
const MAX_RECORDS = 1024;
/** The handler ends the call in the same `Promise.all` as a tracer: it doesn't take long, or it isn't coming. */
const RECORD_WAIT_MS = 2000;

/** @internal A budget handler admitted the call of run `runId`: its record will come. */
export function expectRecord(runId: string): void {
  if (records.size >= MAX_RECORDS) {
    const oldest = records.keys().next().value as string;
    records.get(oldest)?.resolve(undefined);
    records.delete(oldest);
  }
  let resolve: (record: CostRecord | undefined) => void = () => {};
  const promise = new Promise<CostRecord | undefined>((done) => (resolve = done));
  records.set(runId, { promise, resolve });
}

/** @internal The call of run `runId` ended: its record (none if it was released, never billed). */
export function recordFound(runId: string, record: CostRecord | undefined): void {
  records.get(runId)?.resolve(record);
}

/**
 * @internal The budget's record of run `runId`, once its handler ended it; `undefined` at once for a run no
 * budget handler saw, and after a while for one whose end never comes.
 */
export function recordOfRun(runId: string): Promise<CostRecord | undefined> {
  const entry = records.get(runId);
  if (!entry) return Promise.resolve(undefined);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => {
    const started = setTimeout(() => resolve(undefined), RECORD_WAIT_MS);
    (started as { unref?: () => void }).unref?.();
    timer = started;
  });
  return Promise.race([entry.promise, late]).finally(() => clearTimeout(timer));
}
