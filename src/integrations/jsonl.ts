/**
 * `langchain-metered/jsonl`: the metering log as a JSON Lines file. A separate entry because it needs Node's
 * `fs`, which the root entry must not load (it also runs in browsers and edge runtimes).
 */
import { appendFile } from "node:fs/promises";
import { z } from "zod";
import type { MeterEntry, MeterSink } from "../budget/meter-sink.js";
import { parseOptions } from "../validation.js";

export type { MeterEntry, MeterSink } from "../budget/meter-sink.js";

const sinkOptions = z.strictObject({ includeContent: z.boolean().optional() });

/**
 * An append-only JSON Lines metering log: one line per priced call, in the order calls settle. A line is
 * appended before the call's spend reaches the budget store, so a process killed in between leaves the log
 * ahead of the store, never behind it.
 *
 * @example
 * ```ts
 * import { JsonlMeterSink } from "langchain-metered/jsonl";
 * new MeteredChatModel({ model: "gpt-4o-mini", budget: { meter: new JsonlMeterSink("usage.jsonl") } });
 * ```
 */
export class JsonlMeterSink implements MeterSink {
  readonly includeContent: boolean;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    options: { includeContent?: boolean } = {},
  ) {
    if (typeof path !== "string" || path === "") {
      throw new TypeError(`JsonlMeterSink: path must be a file path, got ${JSON.stringify(path) ?? String(path)}.`);
    }
    this.includeContent = parseOptions(sinkOptions, options, "JsonlMeterSink", "").includeContent ?? false;
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
