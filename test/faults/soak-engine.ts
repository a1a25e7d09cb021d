/**
 * The randomized hard-cap soak, shared by `test/faults/soak.test.ts` (a seeded, CI-sized run) and
 * `bench/soak.ts` (≥ 1,000 runs). A run is one budgeted unit of work under a hard cap:
 *
 * - `handler`: a MeteredChatModel whose calls report to one `BudgetCallbackHandler({ hardCap: true })`;
 * - `own`: a MeteredChatModel with `budget: { hardCap: true }`, called from inside one RunnableLambda: the
 *   run's own budget (its run scope), shared by every call in it;
 * - `plain`: a plain ChatOpenAI (max tokens set) under a `BudgetCallbackHandler({ hardCap: true })`.
 *
 * In a run, 1, 8 or 64 workers each call the model in a loop (invoke or stream, Chat Completions or the
 * Responses API, gpt-4o-mini or gpt-4o) until the budget refuses them. About a third of the calls meet a
 * fault of the fake on their first attempt (a retry, when `maxRetries` allows one, is answered normally): a
 * reset or malformed SSE mid-way, an HTML / empty / `{}` 200, a 429 or 500, a hang (ended by the model's
 * 300 ms timeout), a stream that stalls (ended by the caller's 600 ms deadline), string or contradictory
 * usage, a served model with no price. The callers give up too: a tenth of the calls are aborted at a random
 * moment, a tenth of a metered model's streams are dropped (`break`), a third of the runs are aborted as a
 * whole (every call in flight) at a random moment.
 *
 * The fake keeps its own bill (what a provider would charge, partial output and every retried attempt included).
 * Per run: whether the bill went over the limit (the bar: never), and the budget usable before refusal: the
 * bill of the requests sent before the first refusal (or of all of them, when none was refused) / the limit.
 */
import { setMaxListeners } from "node:events";
import { RunnableLambda } from "@langchain/core/runnables";
import { ChatOpenAI } from "@langchain/openai";
import { BudgetCallbackHandler, BudgetExceededError, MeteredChatModel } from "../../src/index.js";
import { billing, prng, randomPrompt } from "../budget/hard-cap-billing.js";
import { type BillEntry, type FakeOpenAI, type Fault, type RecordedRequest, type ScriptedReply, startFakeOpenAI } from "../support/openai-server.js";

export type Kind = "handler" | "own" | "plain";
export const CONCURRENCY = [1, 8, 64] as const;
const PRICES = { "gpt-4o-mini": { input: 150, output: 600 }, "gpt-4o": { input: 2_500, output: 10_000 } } as const;
type ModelName = keyof typeof PRICES;

/** The faults a call may meet on its first attempt, and how often (the rest of the weight: none). */
const FAULTS = [
  ["reset-mid-stream", 4],
  ["malformed-sse", 3],
  ["html-200", 2],
  ["empty-200", 1],
  ["empty-object-200", 1],
  ["429", 3],
  ["500", 2],
  ["hang", 2],
  ["stall", 2],
  ["string-usage", 2],
  ["contradictory-usage", 2],
  ["mystery-model", 2],
  ["none", 54],
] as const;
export type SoakFault = (typeof FAULTS)[number][0];

export interface RunResult {
  seed: number;
  kind: Kind;
  concurrency: number;
  model: ModelName;
  stream: boolean;
  api: "chat" | "responses";
  limitNano: number;
  /** What the provider billed the run (every request, retried attempts included). */
  billedNano: number;
  /** The bill of the requests sent before the first refusal (all of them when none was refused) / the limit. */
  usableFraction: number;
  refused: boolean;
  /** Calls that took the budget over its limit (a hard cap never should: they'd show in our own ledger). */
  exceeded: number;
  calls: number;
  faults: number;
  userAborts: number;
  runAborted: boolean;
  /** Errors a caller got that are none of those expected (a bug): their messages. */
  unexpected: string[];
  /** A handler's view at the end (runs with a handler): what it still holds and what it spent, nano-USD. */
  heldAfterNano: number;
  spentNano: number | undefined;
  ms: number;
}

export interface SoakOptions {
  seed: number;
  /** Runs per concurrency level. */
  runsPerConcurrency: number;
  concurrency?: readonly number[];
  /** A worker stops after this many calls even if the budget never refused it. */
  maxCallsPerWorker?: number;
  /**
   * The models' `maxRetries`. Default 0: the caller retries. With more, LangChain retries a failed request
   * inside the call (its AsyncCaller): metered models meter each attempt; a plain model's are a known gap.
   */
  maxRetries?: number;
  /** Faults of the fake (default true) and the callers' aborts and `break`s (default true). */
  faults?: boolean;
  aborts?: boolean;
  /** Every call meets this fault on its first attempt (instead of the random mix). */
  everyCall?: SoakFault;
  /** Only invokes, or only streams (default: each run picks one). */
  mode?: "invoke" | "stream";
  /** Reports progress (a run finished). */
  onRun?: (result: RunResult, index: number) => void;
}

const wanted = (body: unknown) => Number(/\[reply (\d+)\]/.exec(JSON.stringify(body))?.[1] ?? 100);
const latency = (body: unknown) => Number(/\[latency (\d+)\]/.exec(JSON.stringify(body))?.[1] ?? 0);
const faultOf = (body: unknown) => (/\[fault ([a-z0-9-]+)\]/.exec(JSON.stringify(body))?.[1] ?? "none") as SoakFault;
const callOf = (body: unknown) => /\[call (\d+)\]/.exec(JSON.stringify(body))?.[1];

function pickFault(random: ReturnType<typeof prng>): SoakFault {
  const total = FAULTS.reduce((sum, [, weight]) => sum + weight, 0);
  let roll = random.next() * total;
  for (const [fault, weight] of FAULTS) if ((roll -= weight) < 0) return fault;
  return "none";
}

/** When each request reached the fake. */
const arrivals = new WeakMap<RecordedRequest, number>();
const RUN_HEADER = "x-soak-run";

/** The fake's replies: realistic billing, and each call's fault on its first attempt only. */
function replies(): (req: RecordedRequest) => ScriptedReply {
  const seen = new Set<string>();
  const inner = billing({ outputTokens: (req) => wanted(req.body), chunkSize: 80 });
  return (req) => {
    arrivals.set(req, performance.now());
    const base = inner(req) as ScriptedReply;
    const reply: ScriptedReply = { ...base, ...(req.stream ? {} : { chunkDelayMs: latency(req.body) }) };
    const id = callOf(req.body) && `${String(req.headers[RUN_HEADER])}:${callOf(req.body)}`;
    const first = id !== undefined && !seen.has(id);
    if (id !== undefined) seen.add(id);
    if (!first) return reply;
    const fault = faultOf(req.body);
    const events = 2 + (Number(callOf(req.body)) % 8); // SSE events before a mid-stream fault
    const usage = base.usage ?? {};
    const chat = req.api === "chat";
    switch (fault) {
      case "none":
        return reply;
      case "429":
      case "500":
        return { status: Number(fault), headers: { "retry-after-ms": "1" } };
      case "hang":
        return { ...reply, fault: "hang" };
      case "stall":
        return req.stream ? { ...reply, fault: "hang", faultAfterChunks: events } : { ...reply, fault: "hang" };
      case "string-usage":
        return {
          ...reply,
          rawUsage: chat
            ? { prompt_tokens: String(usage.promptTokens), completion_tokens: String(usage.completionTokens), total_tokens: "1" }
            : { input_tokens: String(usage.promptTokens), output_tokens: String(usage.completionTokens), total_tokens: "1" },
        };
      case "contradictory-usage": {
        const [input, output] = [usage.promptTokens ?? 0, usage.completionTokens ?? 0];
        return {
          ...reply,
          rawUsage: chat
            ? { prompt_tokens: input, completion_tokens: output, total_tokens: input + output, prompt_tokens_details: { cached_tokens: input + 100 } }
            : { input_tokens: input, output_tokens: output, total_tokens: input + output, input_tokens_details: { cached_tokens: input + 100 } },
        };
      }
      case "mystery-model":
        return { ...reply, model: "mystery" };
      default:
        return { ...reply, fault: fault as Fault, faultAfterChunks: events };
    }
  };
}

/** What the provider charged for a bill entry, at the request's model's prices. */
function priceOf(entry: BillEntry, req: RecordedRequest | undefined): number {
  if (entry.status >= 400) return 0;
  const price = PRICES[String(req?.body?.model) as ModelName] ?? PRICES["gpt-4o"];
  return entry.inputTokens * price.input + entry.outputTokens * price.output;
}

const expectedError = (error: unknown): boolean => {
  const e = error as { name?: unknown; message?: unknown; status?: unknown } | null;
  const name = String(e?.name ?? "");
  return (
    // A 429 or 500 (not retried with maxRetries 0), as LangChain wraps it.
    (typeof e?.status === "number" && e.status >= 400) ||
    [
      "InvalidUsageError",
      "UnknownModelPriceError",
      "ProviderResponseError",
      "AbortError",
      "TimeoutError",
      "APIUserAbortError",
      "APIConnectionTimeoutError",
      "APIConnectionError",
    ].includes(name) ||
    (error instanceof TypeError && e?.message === "terminated") ||
    // The caller's own abort reason, passed through as is.
    (error instanceof Error && /^(user abort|run abort)$/.test(String(e?.message)))
  );
};

/**
 * One run. Its bill is filled in later, by `attribute`: a request its caller aborted may still reach the
 * fake after the run ended (the provider bills it all the same), so bills are matched to runs by a header.
 */
export async function oneRun(
  server: FakeOpenAI,
  seed: number,
  concurrency: number,
  options: Pick<SoakOptions, "maxCallsPerWorker" | "maxRetries" | "faults" | "aborts" | "everyCall" | "mode"> = {},
): Promise<RunResult & { refusedAt?: number }> {
  const { maxCallsPerWorker = 40, maxRetries = 0, faults: withFaults = true, aborts = true, everyCall } = options;
  const t0 = performance.now();
  const random = prng(seed);
  const kind = random.pick(["handler", "own", "plain"] as const);
  const model = random.pick(["gpt-4o-mini", "gpt-4o"] as const);
  const coin = random.next() < 0.5;
  const stream = options.mode ? options.mode === "stream" : coin;
  const api = random.next() < 0.5 ? ("chat" as const) : ("responses" as const);
  // About 5–40 calls' worth: a call is ~100–500 input and ~20–400 output tokens.
  const limitNano = random.int(40, 400) * (model === "gpt-4o" ? 100_000 : 6_000);
  const limitUsd = limitNano / 1e9;
  const runAbortAt = random.next() < 0.33 && aborts ? random.int(0, 150) : undefined;

  const fields = {
    model,
    apiKey: "soak",
    maxRetries,
    timeout: 300,
    useResponsesApi: api === "responses",
    configuration: { baseURL: server.url, logLevel: "off" as const, defaultHeaders: { [RUN_HEADER]: String(seed) } },
  };
  const handler = kind === "own" ? undefined : new BudgetCallbackHandler({ limitUsd, hardCap: true });
  const llm: ChatOpenAI =
    kind === "plain"
      ? new ChatOpenAI({ ...fields, maxTokens: random.int(64, 512) })
      : new MeteredChatModel({ ...fields, ...(kind === "own" ? { budget: { limitUsd, hardCap: true } } : { budget: false as const }) });

  const run = new AbortController();
  setMaxListeners(10_000, run.signal); // every call in flight listens to it (64 workers, and LangChain too)
  const runTimer = runAbortAt === undefined ? undefined : setTimeout(() => run.abort(new Error("run abort")), runAbortAt);
  let refusedAt: number | undefined;
  let exceeded = 0;
  let calls = 0;
  let faults = 0;
  let userAborts = 0;
  const unexpected: string[] = [];

  const callOnce = async (prompt: string, workerRandom: ReturnType<typeof prng>): Promise<"go" | "stop"> => {
    // Every call has a deadline (a stalled stream ends there); a tenth are also aborted by their caller.
    const own = new AbortController();
    const onRun = () => own.abort(run.signal.reason);
    run.signal.addEventListener("abort", onRun, { once: true });
    const deadline = setTimeout(() => own.abort(new DOMException("deadline", "TimeoutError")), aborts ? 600 : 10_000);
    const userAbort = workerRandom.next() < 0.1 && aborts ? workerRandom.int(0, 30) : undefined;
    // A tenth of a metered model's streams are dropped by their consumer (`break`) after a few chunks. (A
    // plain model's are not: LangChain tells its handler nothing then, a known gap.)
    const breakAfter = stream && kind !== "plain" && aborts && workerRandom.next() < 0.1 ? workerRandom.int(1, 10) : undefined;
    if (userAbort !== undefined) userAborts++;
    const userTimer = userAbort === undefined ? undefined : setTimeout(() => own.abort(new Error("user abort")), userAbort);
    const options = { signal: own.signal, ...(handler ? { callbacks: [handler] } : {}) };
    try {
      if (stream) {
        let chunks = 0;
        for await (const _ of await llm.stream(prompt, options)) if (++chunks === breakAfter) break;
      } else {
        await llm.invoke(prompt, options);
      }
      return "go";
    } catch (error) {
      if (BudgetExceededError.isInstance(error)) {
        if (error.stop === "refused") refusedAt ??= performance.now();
        else exceeded++;
        return "stop";
      }
      if (!expectedError(error)) unexpected.push(`${(error as Error)?.name}: ${(error as Error)?.message}`.slice(0, 200));
      return run.signal.aborted ? "stop" : "go";
    } finally {
      clearTimeout(deadline);
      clearTimeout(userTimer);
      run.signal.removeEventListener("abort", onRun);
    }
  };

  let callId = 0;
  const worker = async (index: number) => {
    const workerRandom = prng(seed * 131 + index);
    for (let i = 0; i < maxCallsPerWorker && !run.signal.aborted && refusedAt === undefined; i++) {
      const fault = everyCall ?? (withFaults ? pickFault(workerRandom) : "none");
      if (fault !== "none") faults++;
      calls++;
      const prompt =
        `${randomPrompt(workerRandom, workerRandom.int(5, 300))} [reply ${workerRandom.int(20, 400)}] ` +
        `[latency ${workerRandom.int(0, 8)}] [fault ${fault}] [call ${++callId}]`;
      if ((await callOnce(prompt, workerRandom)) === "stop") return;
    }
  };
  const workers = () => Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)));
  if (kind === "own") {
    // One run (a RunnableLambda): every call in it shares the run's own budget.
    await RunnableLambda.from(async () => workers()).invoke(null, { signal: run.signal }).catch(() => undefined);
  } else {
    await workers();
  }
  clearTimeout(runTimer);
  // A caller sees an abort before the library has ended the aborted call (it counts what was received):
  // give the run's calls a moment (2 s at most) to end before reading what is still held.
  await server.settled();
  for (const until = performance.now() + 2_000; handler && handler.heldUsd > 0 && performance.now() < until; ) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return {
    seed,
    kind,
    concurrency,
    model,
    stream,
    api,
    limitNano,
    billedNano: 0,
    usableFraction: 0,
    refused: refusedAt !== undefined,
    refusedAt,
    exceeded,
    calls,
    faults,
    userAborts,
    runAborted: run.signal.aborted,
    unexpected,
    heldAfterNano: handler ? Math.round(handler.heldUsd * 1e9) : 0,
    spentNano: handler ? Math.round(handler.spentUsd * 1e9) : undefined,
    ms: Math.round(performance.now() - t0),
  };
}

/**
 * Adds the fake's bill so far to the runs it belongs to (by the run header), then clears it. `usable` counts
 * what reached the fake before the run's first refusal (everything, when none was refused).
 */
function attribute(server: FakeOpenAI, runs: Map<string, RunResult & { refusedAt?: number; usableNano?: number }>): void {
  for (const entry of server.bill) {
    const req = server.requests[entry.requestIndex];
    const run = runs.get(String(req?.headers[RUN_HEADER]));
    if (!run || !req) throw new Error(`a bill entry of no run: request ${entry.requestIndex}`);
    const nano = priceOf(entry, req);
    run.billedNano += nano;
    if (run.refusedAt === undefined || (arrivals.get(req) ?? Infinity) < run.refusedAt) run.usableNano = (run.usableNano ?? 0) + nano;
    run.usableFraction = (run.usableNano ?? 0) / run.limitNano;
  }
  server.reset();
  server.setDefault(replies());
}

export async function soak(options: SoakOptions): Promise<RunResult[]> {
  const server = await startFakeOpenAI();
  server.setDefault(replies());
  const runs = new Map<string, RunResult & { refusedAt?: number }>();
  const results: RunResult[] = [];
  try {
    for (const concurrency of options.concurrency ?? CONCURRENCY) {
      for (let i = 0; i < options.runsPerConcurrency; i++) {
        const seed = options.seed + concurrency * 100_000 + i;
        const result = await oneRun(server, seed, concurrency, options);
        runs.set(String(seed), result);
        results.push(result);
        await server.settled();
        attribute(server, runs);
        options.onRun?.(result, results.length);
      }
    }
    // Requests aborted by their callers may still be arriving: give them a moment, and bill them too.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await server.settled();
    attribute(server, runs);
  } finally {
    await server.close();
  }
  return results;
}

/** A quantile (nearest rank) of a list. */
export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}

export interface SoakRow {
  group: string;
  runs: number;
  overByBill: number;
  worstBillOverLimit: number;
  refused: number;
  exceeded: number;
  usableRuns: number;
  usableMedian: number;
  usableMin: number;
  usableP10: number;
  calls: number;
  faults: number;
  userAborts: number;
  runAborts: number;
  unexpected: number;
}

export function summarize(results: RunResult[], group: string): SoakRow {
  // A run its caller aborted stopped by choice, not at its budget: its use says nothing of the budget's.
  const usable = results.filter((r) => !r.runAborted).map((r) => r.usableFraction);
  return {
    group,
    runs: results.length,
    overByBill: results.filter((r) => r.billedNano > r.limitNano).length,
    worstBillOverLimit: Math.max(0, ...results.map((r) => r.billedNano / r.limitNano)),
    refused: results.filter((r) => r.refused).length,
    exceeded: results.reduce((s, r) => s + r.exceeded, 0),
    usableRuns: usable.length,
    usableMedian: quantile(usable, 0.5),
    usableMin: usable.length ? Math.min(...usable) : Number.NaN,
    usableP10: quantile(usable, 0.1),
    calls: results.reduce((s, r) => s + r.calls, 0),
    faults: results.reduce((s, r) => s + r.faults, 0),
    userAborts: results.reduce((s, r) => s + r.userAborts, 0),
    runAborts: results.filter((r) => r.runAborted).length,
    unexpected: results.reduce((s, r) => s + r.unexpected.length, 0),
  };
}

/** The soak's table: per concurrency, per kind, per call mode, and all runs. */
export function soakTable(results: RunResult[]): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const rows: SoakRow[] = [
    ...CONCURRENCY.map((c) => summarize(results.filter((r) => r.concurrency === c), `concurrency ${c}`)),
    ...(["handler", "own", "plain"] as const).map((k) => summarize(results.filter((r) => r.kind === k), `kind: ${k}`)),
    summarize(results.filter((r) => r.stream), "streams"),
    summarize(results.filter((r) => !r.stream), "invokes"),
    summarize(results.filter((r) => !r.runAborted), "runs not aborted"),
    summarize(results, "**all**"),
  ].filter((row) => row.runs > 0);
  return [
    "| runs | n | over the limit by the provider's bill | worst bill / limit | runs refused | calls over the limit (ours) | usable before refusal (runs not aborted: n) median / min / p10 | calls | faulted calls | user-aborted calls | aborted runs | unexpected errors |",
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ...rows.map(
      (r) =>
        `| ${r.group} | ${r.runs} | **${r.overByBill}** | ${pct(r.worstBillOverLimit)} | ${r.refused} | ${r.exceeded} | (${r.usableRuns}) ${pct(r.usableMedian)} / ${pct(r.usableMin)} / ${pct(r.usableP10)} | ${r.calls} | ${r.faults} | ${r.userAborts} | ${r.runAborts} | ${r.unexpected} |`,
    ),
  ].join("\n");
}
