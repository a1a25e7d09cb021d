import { appendFile } from "node:fs/promises";
import type { Usage } from "../usage/usage.js";
import type { BudgetDecision } from "./cost-record.js";

/** One line of the metering log: a priced call, without its prompt or answer unless a sink asks for them. */
export interface MeterEntry {
  /** ISO time the call was settled. */
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
  decision: BudgetDecision;
  /** Only for a sink with `includeContent`: the request's messages and the answer, as text. */
  content?: { input: string; output: string };
}

/** Where priced calls are recorded for billing. `write` may be sync or async; a failure never fails the call. */
export interface MeterSink {
  write(entry: MeterEntry): void | Promise<void>;
  /** Whether entries should carry the prompt and answer. Default false. */
  readonly includeContent?: boolean;
}

/**
 * An append-only JSON Lines metering log: one line per priced call, in the order calls settle.
 *
 * @example
 * ```ts
 * new BudgetCallbackHandler({ meter: new JsonlMeterSink("usage.jsonl") });
 * ```
 */
export class JsonlMeterSink implements MeterSink {
  readonly includeContent: boolean;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    options: { includeContent?: boolean } = {},
  ) {
    this.includeContent = options.includeContent ?? false;
  }

  write(entry: MeterEntry): Promise<void> {
    // One append at a time keeps lines whole and in order.
    const line = `${JSON.stringify(entry)}\n`;
    const written = this.queue.then(() => appendFile(this.path, line, "utf8"));
    this.queue = written.catch(() => {});
    return written;
  }

  /** Resolves once every line written so far is on disk. */
  flush(): Promise<void> {
    return this.queue;
  }
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
