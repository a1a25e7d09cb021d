import type { Usage } from "../usage/usage.js";
import type { BudgetDecision } from "./cost-record.js";

/**
 * One line of the metering log: a priced call, without its prompt or answer unless a sink asks for them.
 * A hard-capped call held in a shared quota store gets a first line with `decision: "held"` (its worst case,
 * written before the hold is placed) and a second with its outcome: per `callId`, the last line counts. A
 * worker that dies mid-call leaves only the "held" line, which is what the store charges when the hold expires;
 * a call that was not billed after all ends on a "released" line of $0.
 */
export interface MeterEntry {
  /** Unique per call; the store settles each call once by it. */
  callId: string;
  /** ISO time the line was written. */
  time: string;
  runId: string | undefined;
  parentRunId: string | undefined;
  /** The quota counters the call was charged to (window included). */
  quotaKeys: string[];
  provider: string | undefined;
  model: string;
  usage: Usage;
  costUsd: number;
  costNanoUsd: number;
  /** e.g. `genai-prices@0.1.8`, or `override`. */
  priceSource: string;
  estimated: boolean;
  decision: BudgetDecision | "held" | "released";
  /** Only for a sink with `includeContent`: the request's messages and the answer, as text. */
  content?: { input: string; output: string };
}

/** Where priced calls are recorded for billing. `write` may be sync or async; a failure never fails the call. */
export interface MeterSink {
  write(entry: MeterEntry): void | Promise<void>;
  /** Whether entries should carry the prompt and answer. Default false. */
  readonly includeContent?: boolean;
}

/** Sinks already warned about: once per sink, not once per run (per-run budgets each wrap the sink). */
const warnedSinks = new WeakSet<MeterSink>();

/** @internal Wraps a sink so a failure is reported once and counted, never thrown into the call. */
export class SafeMeter {
  dropped = 0;

  constructor(readonly sink: MeterSink) {}

  async write(entry: MeterEntry): Promise<void> {
    try {
      await this.sink.write(entry);
    } catch (error) {
      this.dropped += 1;
      if (!warnedSinks.has(this.sink)) {
        warnedSinks.add(this.sink);
        console.warn("langchain-metered: the metering sink failed; calls go on, and dropped entries are counted.", error);
      }
    }
  }
}
