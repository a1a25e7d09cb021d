/**
 * `langchain-metered/cloudevents`: the metering log as a billing export. Each billed call becomes a CloudEvents
 * 1.0 event, posted in batches (`application/cloudevents-batch+json`, the structured JSON batch format OpenMeter
 * ingests), spooled on disk while the endpoint is down. A separate entry because it needs Node's `fs`, which the
 * root entry must not load.
 */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile, appendFile, unlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import { z } from "zod";
import type { MeterEntry, MeterSink } from "../budget/meter-sink.js";
import { aFunction, describeValue, parseOptions, positiveWhole } from "../validation.js";

export type { MeterEntry, MeterSink } from "../budget/meter-sink.js";

/** The decisions that are billed: a call that ended with a cost. "held" is not an outcome; "released" and "refused" are $0. */
const BILLED = new Set<string>(["allowed", "clamped", "exceeded"]);

/** What a billed call's event carries in `data`: flat, so a meter can aggregate any field by a JSONPath (`$.costNanoUsd`). */
export interface CloudEventsMeterData {
  /** The call's cost in USD (a float; sum `costNanoUsd` for exact totals). */
  costUsd: number;
  /** The call's cost in nano-USD (1e-9 USD), a whole number. */
  costNanoUsd: number;
  /** `inputTokens + outputTokens`. */
  totalTokens: number;
  inputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  cacheWrite1hTokens: number;
  cacheReadAudioTokens: number;
  inputAudioTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  outputAudioTokens: number;
  webSearchRequests: number;
  model: string;
  /** The genai-prices provider id; absent when unknown. */
  provider?: string;
  decision: "allowed" | "clamped" | "exceeded";
  /** True when the usage was estimated (the provider reported none). */
  estimated: boolean;
  priceSource: string;
  /** The quota counters the call was charged to (window included). */
  quotaKeys: string[];
  /** LangChain's run id, when the run had callbacks. */
  runId?: string;
}

/** One billed call as a CloudEvents 1.0 event (JSON format). */
export interface CloudEventsMeterEvent {
  specversion: "1.0";
  /** The call id: the same call always has the same id, so a receiver drops a resent event (source + id). */
  id: string;
  source: string;
  type: string;
  /** Who is billed (OpenMeter aggregates by it); absent when no subject could be derived. */
  subject?: string;
  /** When the call's outcome was logged (RFC 3339). */
  time: string;
  datacontenttype: "application/json";
  data: CloudEventsMeterData;
}

/** Counters of what the sink did, since it was created (`pendingEvents` includes what it found in its spool). */
export interface CloudEventsMeterStats {
  /** Events the endpoint acknowledged (2xx). */
  sent: number;
  /** Events spooled and not yet acknowledged. */
  pendingEvents: number;
  /** Bytes those take in the spool. */
  pendingBytes: number;
  /** Events dropped because the spool was full (each also rejected its `write`). */
  dropped: number;
  /** Events the endpoint refused for good (a 4xx other than 401, 403, 408, 425 and 429), set aside. */
  rejected: number;
  /** The last delivery failure, cleared by the next success. */
  lastError: unknown;
}

export interface CloudEventsMeterSinkOptions {
  /** The ingest endpoint, e.g. `https://openmeter.cloud/api/v1/events` (http or https). */
  url: string;
  /** Sent with every request, e.g. `{ Authorization: "Bearer om_…" }`. `content-type` is set by the sink. */
  headers?: Record<string, string>;
  /** The events' `type` (what an OpenMeter meter's `eventType` matches). Default `"langchain-metered.call"`. */
  type?: string;
  /** The events' `source` (keep it stable: receivers deduplicate by source + id). Default `"langchain-metered"`. */
  source?: string;
  /**
   * Who a call is billed to. A function of the entry (return `undefined` for no subject), or a quota key's
   * prefix: `"tenant"` takes the first quota key `tenant:…` and bills `acme` for `tenant:acme:month:2026-11`.
   * Default: the first quota key without its window (`tenant:acme`); none without quotas.
   */
  subject?: string | ((entry: MeterEntry) => string | undefined);
  /** Events per request, at most. Default 100. */
  batchSize?: number;
  /** How often what was written is sent, in ms (a full batch goes at once). Default 1000. */
  flushIntervalMs?: number;
  /** Retries of a failed request (5xx, 401/403/408/425/429, network error, timeout) before waiting for the next flush. Default 5. */
  maxRetries?: number;
  /** The first retry's delay in ms, doubled each retry (with jitter: a random half to all of it). Default 200. */
  backoffMs?: number;
  /** The longest delay between retries, in ms (a `Retry-After` too). Default 30000. */
  maxBackoffMs?: number;
  /** How long a request may take before it is abandoned and retried, in ms. Default 10000. */
  timeoutMs?: number;
  /**
   * A directory for the spool: events are appended there before `write` resolves and deleted once the endpoint
   * acknowledged them, so a restart (a new sink on the same directory) sends what the last one could not.
   * Without it the spool is in memory and dies with the process.
   */
  spoolDir?: string;
  /** The spool's bound, in bytes: past it, new events are dropped (counted, and their `write` rejects). Default 64 MiB. */
  maxSpoolBytes?: number;
  /** The `fetch` to send with. Default: the global `fetch`. */
  fetch?: typeof fetch;
}

const nonNegativeWhole = () =>
  z.custom<number>((value) => Number.isSafeInteger(value) && (value as number) >= 0, {
    error: (issue) => `Expected a whole number ≥ 0, got ${describeValue(issue.input)}`,
  });
const nonEmptyString = () =>
  z.custom<string>((value) => typeof value === "string" && value.trim() !== "", {
    error: (issue) => `Expected a non-empty string, got ${describeValue(issue.input)}`,
  });
const httpUrl = () =>
  z.custom<string>(
    (value) => {
      if (typeof value !== "string") return false;
      try {
        const { protocol } = new URL(value);
        return protocol === "http:" || protocol === "https:";
      } catch {
        return false;
      }
    },
    { error: (issue) => `Expected an http(s) URL, got ${describeValue(issue.input)}` },
  );

const sinkOptions = z.strictObject({
  url: httpUrl(),
  headers: z.record(z.string(), z.string()).optional(),
  type: nonEmptyString().optional(),
  source: nonEmptyString().optional(),
  subject: z.union([nonEmptyString(), aFunction<(entry: MeterEntry) => string | undefined>()]).optional(),
  batchSize: positiveWhole().optional(),
  flushIntervalMs: positiveWhole().optional(),
  maxRetries: nonNegativeWhole().optional(),
  backoffMs: positiveWhole().optional(),
  maxBackoffMs: positiveWhole().optional(),
  timeoutMs: positiveWhole().optional(),
  spoolDir: nonEmptyString().optional(),
  maxSpoolBytes: positiveWhole().optional(),
  fetch: aFunction<typeof fetch>().optional(),
});

/** Why an event was not spooled: the spool is at `maxSpoolBytes`. The event is lost (counted in `stats.dropped`). */
export class SpoolFullError extends Error {
  override readonly name = "SpoolFullError";
}

/** The endpoint did not acknowledge a batch after every retry; its events stay in the spool for the next flush. */
export class CloudEventsDeliveryError extends Error {
  override readonly name = "CloudEventsDeliveryError";
}

/** A spool segment: one batch's worth of events at most, sent (and deleted) as one request. */
interface Segment {
  seq: number;
  events: number;
  bytes: number;
  /** The lines, for the in-memory spool. */
  lines?: string[];
}

/** A status that is worth retrying: the endpoint is down, busy or not authorized yet (a key being rotated). */
const RETRYABLE_STATUS = new Set([401, 403, 408, 425, 429]);
const retryable = (status: number) => status >= 500 || RETRYABLE_STATUS.has(status);

const SEGMENT = /^seg-(\d{12})\.ndjson$/;
const segmentName = (seq: number) => `seg-${String(seq).padStart(12, "0")}.ndjson`;
const LOCK = ".lock";

/** Spool directories held by an open sink of this process (two sinks on one spool would send everything twice). */
const openSpools = new Set<string>();

/**
 * A billing export of the metering log: every billed call (`allowed`, `clamped`, `exceeded`) as a CloudEvents 1.0
 * event, `id` = the call id, posted in batches as `application/cloudevents-batch+json` (OpenMeter's
 * `POST /api/v1/events` takes them as they are). "held" entries are not sent (the outcome follows), nor
 * "released" and "refused" ones ($0, nothing to bill).
 *
 * Delivery is **at least once, deduplicated by id**: an event is appended to the spool before `write` resolves,
 * and deleted only after a 2xx; a batch that was received but not acknowledged (a timeout, a crash in between)
 * is sent again, with the same ids. Failed requests are retried with exponential backoff and jitter; while the
 * endpoint is down, events wait in the spool (`spoolDir` on disk, bounded by `maxSpoolBytes`), in order.
 *
 * @example
 * ```ts
 * import { MeteredChatModel } from "langchain-metered";
 * import { CloudEventsMeterSink } from "langchain-metered/cloudevents";
 *
 * const meter = new CloudEventsMeterSink({
 *   url: "https://openmeter.cloud/api/v1/events",
 *   headers: { Authorization: `Bearer ${process.env.OPENMETER_TOKEN}` },
 *   subject: "tenant",            // bill `acme` for the quota key tenant:acme:month:2026-11
 *   spoolDir: "/var/lib/app/billing-spool",
 * });
 * const model = new MeteredChatModel({
 *   model: "gpt-4o-mini",
 *   budget: { quotas: [{ key: "tenant:{tenant_id}", limitUsd: 500, window: "month" }], meter },
 * });
 * await model.invoke("Hello", { metadata: { tenant_id: "acme" } });
 * await meter.close(); // before exiting: sends what is left (what fails stays in the spool)
 * ```
 */
export class CloudEventsMeterSink implements MeterSink {
  /** Billing events never carry the prompt or the answer. */
  readonly includeContent = false;
  readonly url: string;

  private readonly headers: Record<string, string>;
  private readonly type: string;
  private readonly source: string;
  private readonly subjectOf: (entry: MeterEntry) => string | undefined;
  private readonly batchSize: number;
  private readonly maxRetries: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly timeoutMs: number;
  private readonly maxSpoolBytes: number;
  private readonly fetch: typeof fetch;
  private readonly dir: string | undefined;

  /** Oldest first; the last one is `active` when writes are going to it. */
  private readonly segments: Segment[] = [];
  private active: Segment | undefined;
  private nextSeq = 1;
  private pendingBytes = 0;
  private pendingEvents = 0;
  private sent = 0;
  private dropped = 0;
  private rejected = 0;
  private lastError: unknown;
  private warnedDown = false;

  /** Spool changes (appends, sealing), one at a time, in the order `write` was called. */
  private chain: Promise<void>;
  private readonly ready: Promise<void>;
  private pumping: Promise<boolean> | undefined;
  /** Whether this sink holds `spoolDir/.lock` (and must release it). */
  private locked = false;
  private readonly timer: ReturnType<typeof setInterval>;
  private closed: Promise<void> | undefined;

  constructor(options: CloudEventsMeterSinkOptions) {
    const parsed = parseOptions(sinkOptions, options, "CloudEventsMeterSink", "");
    this.url = parsed.url;
    this.headers = { ...parsed.headers };
    this.type = parsed.type ?? "langchain-metered.call";
    this.source = parsed.source ?? "langchain-metered";
    this.subjectOf = subjectFunction(parsed.subject);
    this.batchSize = parsed.batchSize ?? 100;
    this.maxRetries = parsed.maxRetries ?? 5;
    this.backoffMs = parsed.backoffMs ?? 200;
    this.maxBackoffMs = parsed.maxBackoffMs ?? 30_000;
    this.timeoutMs = parsed.timeoutMs ?? 10_000;
    this.maxSpoolBytes = parsed.maxSpoolBytes ?? 64 * 1024 * 1024;
    const globalFetch = (globalThis as { fetch?: typeof fetch }).fetch;
    if (!parsed.fetch && !globalFetch) throw new TypeError("CloudEventsMeterSink: no global fetch here; pass options.fetch.");
    this.fetch = parsed.fetch ?? (globalFetch as typeof fetch);
    if (parsed.spoolDir !== undefined) {
      const dir = resolve(parsed.spoolDir);
      if (openSpools.has(dir)) {
        throw new Error(`CloudEventsMeterSink: spoolDir ${dir} is in use by another open sink of this process; close() it first.`);
      }
      openSpools.add(dir);
      this.dir = dir;
    }
    this.ready = this.dir ? this.openSpool(this.dir) : Promise.resolve();
    // A failed open rejects every write and flush (with its error); nothing else waits on it.
    this.ready.catch(() => {});
    this.chain = this.ready.catch(() => {});
    this.timer = setInterval(() => void this.pump(true).catch(() => {}), parsed.flushIntervalMs ?? 1000);
    this.timer.unref?.();
  }

  /**
   * Spools a billed call's event (resolved once it is in the spool); other decisions are ignored. Rejects
   * when the spool is full (`SpoolFullError`: the event is lost and counted) or can't be written.
   */
  write(entry: MeterEntry): void | Promise<void> {
    if (!BILLED.has(entry.decision)) return;
    if (this.closed) return Promise.reject(new Error("CloudEventsMeterSink: write after close()."));
    let line: string;
    try {
      line = `${JSON.stringify(this.toEvent(entry))}\n`;
    } catch (error) {
      return Promise.reject(error);
    }
    const written = this.chain.then(() => this.append(line));
    this.chain = written.catch(() => {});
    return written;
  }

  /** The event a billed entry becomes (what is spooled and sent). */
  toEvent(entry: MeterEntry): CloudEventsMeterEvent {
    const subject = this.subjectOf(entry);
    if (subject !== undefined && (typeof subject !== "string" || subject === "")) {
      throw new TypeError(`CloudEventsMeterSink: subject(entry) must return a non-empty string or undefined, got ${describeValue(subject)}.`);
    }
    const { usage } = entry;
    const data: CloudEventsMeterData = {
      costUsd: entry.costUsd,
      costNanoUsd: entry.costNanoUsd,
      totalTokens: usage.inputTokens + usage.outputTokens,
      inputTokens: usage.inputTokens,
      cacheReadTokens: usage.cacheReadTokens,
      cacheWriteTokens: usage.cacheWriteTokens,
      cacheWrite1hTokens: usage.cacheWrite1hTokens,
      cacheReadAudioTokens: usage.cacheReadAudioTokens ?? 0,
      inputAudioTokens: usage.inputAudioTokens,
      outputTokens: usage.outputTokens,
      reasoningTokens: usage.reasoningTokens,
      outputAudioTokens: usage.outputAudioTokens,
      webSearchRequests: usage.webSearchRequests ?? 0,
      model: entry.model,
      ...(entry.provider !== undefined ? { provider: entry.provider } : {}),
      decision: entry.decision as CloudEventsMeterData["decision"],
      estimated: entry.estimated,
      priceSource: entry.priceSource,
      quotaKeys: [...entry.quotaKeys],
      ...(entry.runId !== undefined ? { runId: entry.runId } : {}),
    };
    return {
      specversion: "1.0",
      id: entry.callId,
      source: this.source,
      type: this.type,
      ...(subject !== undefined ? { subject } : {}),
      time: entry.time,
      datacontenttype: "application/json",
      data,
    };
  }

  /**
   * Sends everything written so far. Resolves once the endpoint acknowledged it all; rejects with a
   * `CloudEventsDeliveryError` when a batch still failed after its retries (its events stay in the spool).
   */
  async flush(): Promise<void> {
    await this.ready;
    await this.seal();
    const until = this.nextSeq - 1;
    const waiting = () => this.segments.some((segment) => segment.seq <= until && segment !== this.active);
    while (waiting()) {
      const drained = await this.pump(false);
      if (!drained && waiting()) throw this.lastError;
    }
  }

  /**
   * Stops the timer, tries once more to send what is left (with its retries), and releases the spool.
   * Never rejects for delivery: what could not be sent stays in `spoolDir` for the next sink.
   */
  close(): Promise<void> {
    this.closed ??= (async () => {
      clearInterval(this.timer);
      try {
        await this.flush();
      } catch {
        // Left in the spool (stats.pendingEvents says how many).
      }
      await this.pumping?.catch(() => {});
      if (this.dir) {
        if (this.locked) await rm(join(this.dir, LOCK), { force: true }).catch(() => {});
        openSpools.delete(this.dir);
      }
    })();
    return this.closed;
  }

  /** What the sink has done so far. */
  get stats(): CloudEventsMeterStats {
    return {
      sent: this.sent,
      pendingEvents: this.pendingEvents,
      pendingBytes: this.pendingBytes,
      dropped: this.dropped,
      rejected: this.rejected,
      lastError: this.lastError,
    };
  }

  /** Takes the spool over: the lock, then the segments a previous sink left (sent first, in order). */
  private async openSpool(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    await takeLock(dir);
    this.locked = true;
    const names = (await readdir(dir)).filter((name) => SEGMENT.test(name)).sort();
    for (const name of names) {
      const seq = Number(SEGMENT.exec(name)?.[1]);
      const text = await readFile(join(dir, name), "utf8");
      const events = completeLines(text).length;
      if (events === 0) {
        await unlink(join(dir, name)).catch(() => {});
        continue;
      }
      const bytes = (await stat(join(dir, name))).size;
      this.segments.push({ seq, events, bytes });
      this.pendingEvents += events;
      this.pendingBytes += bytes;
      this.nextSeq = Math.max(this.nextSeq, seq + 1);
    }
  }

  private async append(line: string): Promise<void> {
    await this.ready;
    const bytes = Buffer.byteLength(line);
    if (this.pendingBytes + bytes > this.maxSpoolBytes) {
      this.dropped += 1;
      throw new SpoolFullError(
        `CloudEventsMeterSink: the spool is full (${this.pendingBytes} of ${this.maxSpoolBytes} bytes, ${this.pendingEvents} events waiting for ${this.url}); this event is dropped.`,
      );
    }
    let segment = this.active;
    if (!segment) {
      segment = { seq: this.nextSeq++, events: 0, bytes: 0, ...(this.dir ? {} : { lines: [] }) };
      this.segments.push(segment);
      this.active = segment;
    }
    try {
      if (this.dir) await appendFile(join(this.dir, segmentName(segment.seq)), line, "utf8");
      else segment.lines?.push(line);
    } catch (error) {
      // A partial line may be on disk: nothing more goes to that file (a reader skips an incomplete last line).
      this.active = undefined;
      if (segment.events === 0) this.segments.splice(this.segments.indexOf(segment), 1);
      throw error;
    }
    segment.events += 1;
    segment.bytes += bytes;
    this.pendingEvents += 1;
    this.pendingBytes += bytes;
    if (segment.events >= this.batchSize) {
      this.active = undefined;
      void this.pump(false).catch(() => {});
    }
  }

  /** Ends the active segment (in write order), so what was written so far can be sent. */
  private seal(): Promise<void> {
    const sealed = this.chain.then(() => {
      this.active = undefined;
    });
    this.chain = sealed;
    return sealed;
  }

  /**
   * Sends sealed segments, oldest first, one request at a time, until none is left (true) or one fails (false).
   * `seal` first ends the active segment (the timer's pumps: what was written in the interval goes now).
   */
  private pump(seal: boolean): Promise<boolean> {
    this.pumping ??= (async () => {
      try {
        await this.ready;
        if (seal) await this.seal();
        for (let segment = this.oldestSealed(); segment; segment = this.oldestSealed()) {
          if (!(await this.deliver(segment))) return false;
        }
        return true;
      } finally {
        this.pumping = undefined;
      }
    })();
    return this.pumping;
  }

  private oldestSealed(): Segment | undefined {
    const oldest = this.segments[0];
    return oldest && oldest !== this.active ? oldest : undefined;
  }

  /** Sends one segment; true once it is acknowledged (or set aside as refused), false when it stays. */
  private async deliver(segment: Segment): Promise<boolean> {
    const path = this.dir ? join(this.dir, segmentName(segment.seq)) : undefined;
    const lines = path ? completeLines(await readFile(path, "utf8").catch(() => "")) : (segment.lines ?? []).map((line) => line.trimEnd());
    let outcome: "sent" | "refused" | "empty" = "empty";
    try {
      if (lines.length) outcome = await this.send(`[${lines.join(",")}]`);
    } catch (error) {
      this.lastError = error;
      if (!this.warnedDown) {
        this.warnedDown = true;
        console.warn(`langchain-metered: CloudEventsMeterSink could not deliver to ${this.url}; events wait in the spool and are retried.`, error);
      }
      return false;
    }
    if (outcome === "refused") {
      // Kept for inspection beside the spool (not counted in it), never sent again.
      if (path) await rename(path, join(this.dir as string, `rejected-${segmentName(segment.seq)}`)).catch(() => unlink(path));
      this.rejected += segment.events;
    } else {
      if (path) await unlink(path).catch(() => {});
      if (outcome === "sent") this.sent += lines.length;
      this.lastError = undefined;
      this.warnedDown = false;
    }
    this.segments.splice(this.segments.indexOf(segment), 1);
    this.pendingEvents -= segment.events;
    this.pendingBytes -= segment.bytes;
    return true;
  }

  /** Posts one batch with retries; "refused" for a 4xx that retrying can't fix. Throws once retries are spent. */
  private async send(body: string): Promise<"sent" | "refused"> {
    for (let attempt = 0; ; attempt++) {
      let failure: unknown;
      let retryAfterMs: number | undefined;
      try {
        const response = await this.fetch(this.url, {
          method: "POST",
          headers: { ...this.headers, "content-type": "application/cloudevents-batch+json" },
          body,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        const text = await response.text().catch(() => "");
        if (response.ok) return "sent";
        if (!retryable(response.status)) {
          console.warn(
            `langchain-metered: ${this.url} refused a batch of CloudEvents (HTTP ${response.status}); it is set aside${this.dir ? ` in ${this.dir}` : ""} and not retried.`,
            text.slice(0, 500),
          );
          return "refused";
        }
        failure = new CloudEventsDeliveryError(`CloudEventsMeterSink: ${this.url} answered HTTP ${response.status}. ${text.slice(0, 200)}`.trim());
        retryAfterMs = retryAfter(response.headers.get("retry-after"));
      } catch (error) {
        failure =
          error instanceof CloudEventsDeliveryError
            ? error
            : new CloudEventsDeliveryError(`CloudEventsMeterSink: sending to ${this.url} failed: ${(error as Error)?.message ?? String(error)}`, {
                cause: error,
              });
      }
      if (attempt >= this.maxRetries) throw failure;
      const exponential = Math.min(this.maxBackoffMs, this.backoffMs * 2 ** attempt);
      const jittered = exponential / 2 + (Math.random() * exponential) / 2;
      await sleep(Math.min(this.maxBackoffMs, Math.max(jittered, retryAfterMs ?? 0)));
    }
  }
}

/** The subject option as a function of the entry. */
function subjectFunction(subject: CloudEventsMeterSinkOptions["subject"]): (entry: MeterEntry) => string | undefined {
  if (typeof subject === "function") return subject;
  if (typeof subject === "string") {
    const prefix = `${subject}:`;
    return (entry) => {
      const key = entry.quotaKeys.find((quotaKey) => quotaKey.startsWith(prefix));
      const scope = key === undefined ? undefined : withoutWindow(key).slice(prefix.length);
      return scope || undefined;
    };
  }
  return (entry) => (entry.quotaKeys[0] === undefined ? undefined : withoutWindow(entry.quotaKeys[0]) || undefined);
}

/** A quota counter key without its window occurrence: `tenant:acme:month:2026-11` → `tenant:acme`. */
function withoutWindow(key: string): string {
  return key.replace(/:(?:(?:day|week|month):[^:]+|total)$/, "");
}

/** The complete lines of a spool file (an incomplete last one is a write that never resolved). */
function completeLines(text: string): string[] {
  const end = text.lastIndexOf("\n");
  if (end < 0) return [];
  return text
    .slice(0, end)
    .split("\n")
    .filter((line) => {
      if (line === "") return false;
      try {
        JSON.parse(line);
        return true;
      } catch {
        return false;
      }
    });
}

/** `Retry-After` in ms: seconds or an HTTP date. */
function retryAfter(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}

/**
 * Takes `dir/.lock` (the pid of the process whose sink holds the spool). A lock of a live other process is an
 * error (its sink would send the same events); a dead process's, or this process's (a sink that was never
 * closed, e.g. after a crash of the code around it), is taken over.
 */
async function takeLock(dir: string): Promise<void> {
  const path = join(dir, LOCK);
  try {
    await writeFile(path, String(process.pid), { flag: "wx" });
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const holder = Number((await readFile(path, "utf8").catch(() => "")).trim());
  if (Number.isSafeInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
    throw new Error(`CloudEventsMeterSink: spoolDir ${dir} is in use by process ${holder} (${path}).`);
  }
  await writeFile(path, String(process.pid));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
