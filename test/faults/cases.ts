/**
 * The faults, as a table: what the fake does, how the caller drives the call (a timeout, an abort, a
 * `break`), which paths the fault applies to, and the error the caller must get.
 */
import { APIUserAbortError } from "openai";
import {
  BudgetExceededError,
  InvalidUsageError,
  type MeteredChatModelFields,
  ProviderResponseError,
  UnknownModelPriceError,
} from "../../src/index.js";
import type { FakeOpenAI, ReplyFn, ScriptedReply } from "../support/openai-server.js";
import {
  ANSWER_TOKENS,
  type Api,
  call,
  eventsOf,
  FULL_NANO,
  HOLD_NANO,
  MARGIN_INPUT_NANO,
  type Mode,
  type Outcome,
  type Path,
  RATES,
  reply,
  until,
  type World,
} from "./support.js";

/** SSE events up to and including the `n`-th text delta (chat: the role chunk first; Responses: four events first). */
const throughWords = (api: Api, n: number) => (api === "chat" ? 1 + n : 4 + n);
/** A conservative charge: the input with its margin, plus `words` output tokens received. */
const margin = (words: number) => MARGIN_INPUT_NANO + words * RATES.output;
/** Words written before a mid-stream fault. */
const MID = 10;

export interface FaultCase {
  name: string;
  /** The paths it applies to (default: every one). */
  applies?: (path: Path) => boolean;
  /** The fake's replies, in order (then the realistic default). */
  script: (api: Api, mode: Mode) => (ScriptedReply | ReplyFn)[];
  /** Model fields (a timeout, retries, an onCost that throws). */
  fields?: Partial<MeteredChatModelFields>;
  /** How the caller drives the call; default: call it and read it to its end. */
  drive?: (w: World, server: FakeOpenAI) => Promise<Outcome>;
  /** The error the caller must get (undefined: none), by path. */
  error: (path: Path) => ErrorCheck | undefined;
  /** Requests the fake receives (default 1), and those it bills (error statuses bill nothing; default 1). */
  requests?: number;
  billed?: number;
  /**
   * What the call is charged without a hard cap, in nano-USD (worked by hand: see support.ts). Under a hard
   * cap every call cut off or unpriceable is charged its hold, HOLD_NANO; an `exact` one its usage.
   */
  charge?: (path: Path) => number;
  /** What the call is charged under a hard cap when not `exact` (default one hold, HOLD_NANO). */
  chargeUnderCap?: number;
  /** The answer came through whole and is priced from its usage (not estimated), hard cap or not; by path. */
  exact?: (path: Path) => boolean;
  /** Paths where the library can't keep the bar today (a known gap, reported): run as `it.fails`. */
  gap?: (path: Path) => boolean;
  /** The gap leaves a hold behind (a later call that needs the room waits for it). */
  gapHolds?: boolean;
}

export interface ErrorCheck {
  label: string;
  test: (error: unknown) => boolean;
}

const named = (label: string, test: (e: unknown) => boolean): ErrorCheck => ({ label, test });
const errorName = (e: unknown) => (e as { name?: unknown } | null)?.name;
const message = (e: unknown) => String((e as { message?: unknown } | null)?.message ?? "");

export const INVALID_USAGE = named("InvalidUsageError", (e) => InvalidUsageError.isInstance(e));
export const UNKNOWN_PRICE = named("UnknownModelPriceError", (e) => UnknownModelPriceError.isInstance(e));
export const PROVIDER_RESPONSE = named("ProviderResponseError", (e) => ProviderResponseError.isInstance(e));
export const BUDGET = named("BudgetExceededError", (e) => BudgetExceededError.isInstance(e));
/** undici's connection reset, passed through as the SDK raises it. */
export const TERMINATED = named("TypeError: terminated", (e) => e instanceof TypeError && message(e) === "terminated");
/** The SDK's abort (invoke: `Error` named AbortError; stream: `DOMException` AbortError). */
export const ABORT = named("AbortError", (e) => errorName(e) === "AbortError" || e instanceof APIUserAbortError);
/** The SDK's own timeout (`timeout` option): an Error named TimeoutError "Request timed out.". */
export const SDK_TIMEOUT = named("TimeoutError (SDK)", (e) => errorName(e) === "TimeoutError" && message(e) === "Request timed out.");
/** `AbortSignal.timeout()`: the signal's reason, or the SDK's abort error. */
export const SIGNAL_TIMEOUT = named("TimeoutError / AbortError", (e) => errorName(e) === "TimeoutError" || errorName(e) === "AbortError");

const isStream = (p: Path) => p.mode === "stream";
const isMetered = (p: Path) => !p.budgeting.startsWith("plain");

/** A raw usage in each API's wire shape. */
function rawUsage(api: Api, input: unknown, output: unknown, total: unknown, cached?: unknown): Record<string, unknown> {
  return api === "chat"
    ? { prompt_tokens: input, completion_tokens: output, total_tokens: total, ...(cached !== undefined ? { prompt_tokens_details: { cached_tokens: cached } } : {}) }
    : { input_tokens: input, output_tokens: output, total_tokens: total, ...(cached !== undefined ? { input_tokens_details: { cached_tokens: cached } } : {}) };
}

const usageFault = (raw: (api: Api) => Record<string, unknown>) => (api: Api) => [reply({ rawUsage: raw(api) })];

/** Reads a stream; `stop` after `n` chunks with text. */
const afterChunks = (n: number) => {
  let texts = 0;
  return (chunk: { text: string }) => (chunk.text && ++texts >= n ? ("stop" as const) : undefined);
};

/** The caller aborts once `ready` says so (polled), the fake having stalled. */
async function abortWhen(w: World, ready: (texts: number) => boolean, delayMs = 0): Promise<Outcome> {
  const controller = new AbortController();
  let texts = 0;
  let armed = false;
  const pending = call(w, { signal: controller.signal }, (chunk) => {
    if (chunk.text) texts++;
    if (!armed && ready(texts)) {
      armed = true;
      setTimeout(() => controller.abort(), delayMs);
    }
  });
  return pending;
}

/** Aborts once the request reached the fake (it hangs). */
async function abortOnArrival(w: World, server: FakeOpenAI): Promise<Outcome> {
  const controller = new AbortController();
  const before = server.requests.length;
  const pending = call(w, { signal: controller.signal });
  await until(() => server.requests.length > before);
  await new Promise((r) => setTimeout(r, 20));
  controller.abort();
  return pending;
}

export const FAULTS: FaultCase[] = [
  {
    name: "served model with no price",
    script: () => [reply({ model: "mystery" })],
    error: () => UNKNOWN_PRICE,
    // Priced at the configured model's dearest rates: 41 in + the 50 tokens reported.
    charge: () => margin(ANSWER_TOKENS),
  },
  {
    name: "contradictory usage (cached > prompt)",
    script: usageFault((api) => rawUsage(api, 10, 50, 60, 500)),
    error: () => INVALID_USAGE,
    charge: () => margin(ANSWER_TOKENS),
  },
  {
    name: "string usage",
    script: usageFault((api) => rawUsage(api, "12", "50", "62", "3")),
    error: () => INVALID_USAGE,
    charge: () => margin(ANSWER_TOKENS), // the 50 tokens received, counted locally
  },
  {
    name: "negative / fractional usage",
    script: usageFault((api) => rawUsage(api, -5, 2.5, -2.5)),
    error: () => INVALID_USAGE,
    charge: () => margin(ANSWER_TOKENS),
  },
  {
    name: "absurd usage (1e15)",
    script: usageFault((api) => rawUsage(api, 1e15, 1e15, 2e15)),
    error: () => INVALID_USAGE,
    charge: () => margin(ANSWER_TOKENS), // not 1e15 × 600: the reported count is not believed
  },
  {
    name: "consumer stops reading (break)",
    applies: isStream,
    script: () => [reply({ chunkDelayMs: 2 })],
    drive: (w) => call(w, {}, afterChunks(5)),
    error: () => undefined,
    charge: () => margin(5),
    // LangChain calls neither handleLLMEnd nor handleLLMError when a plain model's stream is returned early.
    gap: (p) => !isMetered(p),
    gapHolds: true,
  },
  {
    name: "caller aborts mid-stream",
    applies: isStream,
    script: (api) => [reply({ fault: "hang", faultAfterChunks: throughWords(api, MID) })],
    drive: (w) => abortWhen(w, (texts) => texts >= 5, 30),
    error: () => ABORT,
    charge: () => margin(MID),
  },
  {
    name: "caller aborts while the usage chunk is held",
    applies: isStream,
    // Every event of the answer (usage included) is written, then the fake stalls before the end.
    script: (api) => [reply({ fault: "hang", faultAfterChunks: eventsOf(api) })],
    drive: (w) => abortWhen(w, (texts) => texts >= ANSWER_TOKENS, 50),
    error: () => ABORT,
    // The Responses API's usage comes in `response.completed`, which the metered model reads off the wire:
    // priced exactly. Chat Completions' usage chunk reaches LangChain, which yields it only after `[DONE]`.
    exact: (p) => p.api === "responses" && isMetered(p),
    charge: (p) => (p.api === "responses" && isMetered(p) ? FULL_NANO : margin(ANSWER_TOKENS)),
  },
  {
    name: "caller aborts before any answer (hang)",
    script: () => [reply({ fault: "hang" })],
    drive: abortOnArrival,
    error: () => ABORT,
    charge: () => margin(0),
  },
  {
    name: "hang, model timeout 200 ms",
    script: () => [reply({ fault: "hang" })],
    fields: { timeout: 200 },
    error: () => SDK_TIMEOUT,
    charge: () => margin(0),
  },
  {
    name: "hang, AbortSignal.timeout(200)",
    script: () => [reply({ fault: "hang" })],
    drive: (w) => call(w, { signal: AbortSignal.timeout(200) }),
    error: () => SIGNAL_TIMEOUT,
    charge: () => margin(0),
  },
  {
    name: "stream stalls mid-way, AbortSignal.timeout(200)",
    applies: isStream,
    script: (api) => [reply({ fault: "hang", faultAfterChunks: throughWords(api, MID) })],
    drive: (w) => call(w, { signal: AbortSignal.timeout(200) }),
    error: () => SIGNAL_TIMEOUT,
    charge: () => margin(MID),
  },
  {
    name: "reset-mid-stream",
    script: (api) => [reply({ fault: "reset-mid-stream", faultAfterChunks: throughWords(api, MID) })],
    error: () => TERMINATED,
    charge: (p) => margin(p.mode === "stream" ? MID : 0),
  },
  {
    name: "malformed-sse",
    script: (api) => [reply({ fault: "malformed-sse", faultAfterChunks: throughWords(api, MID) })],
    error: () => PROVIDER_RESPONSE,
    charge: (p) => margin(p.mode === "stream" ? MID : 0),
  },
  ...(["html-200", "empty-200", "empty-object-200"] as const).map(
    (fault): FaultCase => ({
      name: fault,
      script: () => [reply({ fault })],
      error: () => PROVIDER_RESPONSE,
      charge: () => margin(0),
    }),
  ),
  ...([429, 500] as const).map(
    (status): FaultCase => ({
      name: `${status} then success (maxRetries 2)`,
      // retry-after-ms: the SDK waits 1 ms before its retry instead of its 0.5–8 s backoff.
      script: () => [{ status, headers: { "retry-after-ms": "1" } }, reply()],
      fields: { maxRetries: 2 },
      requests: 2,
      error: () => undefined,
      charge: () => FULL_NANO,
      exact: () => true,
    }),
  ),
  ...(["reset-mid-stream", "malformed-sse"] as const).map(
    (fault): FaultCase => ({
      // LangChain's own retry (its AsyncCaller, `maxRetries`) of a request the provider billed: each attempt
      // is a call of its own, ended once: the cut-off one priced conservatively (under a hard cap, its
      // hold), the retry from its answer. A plain model under a handler is one call to LangChain: its
      // first attempt goes uncharged.
      name: `${fault} (invoke), then LangChain retries it inside the call (maxRetries 2)`,
      applies: (p) => p.mode === "invoke",
      script: () => [reply({ fault }), reply()],
      fields: { maxRetries: 2 },
      requests: 2,
      billed: 2,
      error: () => undefined,
      charge: () => margin(0) + FULL_NANO,
      chargeUnderCap: HOLD_NANO + FULL_NANO,
      gap: (p) => !isMetered(p),
    }),
  ),
  {
    name: "onCost throws",
    applies: isMetered,
    script: () => [reply()],
    fields: {
      onCost: () => {
        throw new Error("observer down");
      },
    },
    error: () => undefined,
    charge: () => FULL_NANO,
    exact: () => true,
  },
];
