/**
 * Shared set-up for the fault-injection suites: the loopback fake OpenAI (with its faults and its own bill),
 * the paths a call can take through the library, and the audit run after every faulted call.
 *
 * Every call goes to a budget that counts it four ways, so they can be compared:
 * - `onCost` (the model's callback; a plain ChatOpenAI has none);
 * - the budget's `records` (a `BudgetCallbackHandler`'s; a model's own run budget is not reachable);
 * - an in-memory `MeterSink` (the metering log: one final line per call id);
 * - an `InMemoryBudgetStore` with a quota (`tenant:{tenant}`, "total" window) holding spend in nano-USD.
 *
 * Money (gpt-4o-mini, genai-prices, nano-USD per token): input 150, cached input 75, output 600. The prompt
 * "Hello" is 8 tokens both for the fake (`billing()`, which counts as OpenAI does) and for the local count;
 * a conservative charge takes ceil(8 × 1.1) + 32 = 41 input tokens (6,150) plus the output received.
 */
import { ChatOpenAI } from "@langchain/openai";
import { vi } from "vitest";
import type { BaseMessage } from "@langchain/core/messages";
import {
  BudgetCallbackHandler,
  type CostRecord,
  InMemoryBudgetStore,
  type MeterEntry,
  type MeterSink,
  MeteredChatModel,
  type MeteredChatModelFields,
  type Quota,
} from "../../src/index.js";
import { billing } from "../budget/hard-cap-billing.js";
import { type BillEntry, type FakeOpenAI, type RecordedRequest, type ScriptedReply, startFakeOpenAI } from "../support/openai-server.js";

export const PROMPT = "Hello";
/** What the fake's "model" writes when nothing stops it: 50 × " word", one token (and one SSE delta) each. */
export const ANSWER_TOKENS = 50;
/** Max tokens every model here sends (a hard cap keeps it: the limit leaves room for it). */
export const MAX_TOKENS = 100;
export const RATES = { input: 150, cached: 75, output: 600 } as const;

/** A full answer: 8 × 150 + 50 × 600 = 1,200 + 30,000. */
export const FULL_NANO = 31_200;
/** A conservative charge's input: 41 × 150. */
export const MARGIN_INPUT_NANO = 6_150;
/**
 * A hard cap's hold for a call of max 100 tokens: with a quota in a store, the input is counted (41 with the
 * margin): 41 × 150 + 100 × 600 = 6,150 + 60,000. A call cut off under a hard cap is charged at least that.
 */
export const HOLD_NANO = 66_150;

export const TENANT = "acme";
export const QUOTA: Quota = { key: "tenant:{tenant}", limitUsd: 1_000, window: "total" };
export const QUOTA_KEY = `tenant:${TENANT}:total`;
export const METADATA = { tenant: TENANT };

/** The provider's price of a bill entry (gpt-4o-mini rates whatever model it names: "mystery" is served at them). */
export function billedNano(entry: BillEntry): number {
  if (entry.status >= 400) return 0;
  return (entry.inputTokens - entry.cachedTokens) * RATES.input + entry.cachedTokens * RATES.cached + entry.outputTokens * RATES.output;
}

/** A metering log in memory. */
export class MemorySink implements MeterSink {
  readonly lines: MeterEntry[] = [];
  write(entry: MeterEntry): void {
    this.lines.push(entry);
  }
  /** The line that counts per call id (the last), for calls that were charged: not held, released or refused. */
  charged(): MeterEntry[] {
    const last = new Map<string, MeterEntry>();
    for (const line of this.lines) last.set(line.callId, line);
    return [...last.values()].filter((line) => line.decision !== "held" && line.decision !== "released" && line.decision !== "refused");
  }
}

/** The reply of a realistic provider (see hard-cap-billing.ts), with `extra` on top (a fault, a raw usage, a model). */
export function reply(extra: ScriptedReply = {}, outputTokens = ANSWER_TOKENS): (req: RecordedRequest) => ScriptedReply {
  const bill = billing({ outputTokens, chunkSize: 5 });
  return (req) => ({ ...(bill(req) as ScriptedReply), ...extra });
}

/** SSE events a complete answer of `words` tokens takes (usage included), per API. */
export function eventsOf(api: Api, words = ANSWER_TOKENS): number {
  // chat: role, one delta per word, finish, usage. responses: created, in_progress, item.added, part.added,
  // deltas, text.done, part.done, item.done, completed (usage).
  return api === "chat" ? words + 3 : words + 8;
}

export type Api = "chat" | "responses";
export type Mode = "invoke" | "stream";
/**
 * Whose budget: the metered model's own per-run budget (`budget: {...}`), with or without a hard cap; a
 * hard-capped `BudgetCallbackHandler` the metered model reports to; or a plain ChatOpenAI under a handler.
 */
export type Budgeting = "own" | "own-cap" | "handler-cap" | "plain" | "plain-cap";
export const BUDGETINGS: readonly Budgeting[] = ["own", "own-cap", "handler-cap", "plain", "plain-cap"];

export interface Path {
  api: Api;
  mode: Mode;
  budgeting: Budgeting;
}

export const PATHS: readonly Path[] = BUDGETINGS.flatMap((budgeting) =>
  (["chat", "responses"] as const).flatMap((api) => (["invoke", "stream"] as const).map((mode) => ({ api, mode, budgeting }))),
);
export const pathName = (p: Path) => `${p.budgeting} ${p.api} ${p.mode}`;
export const capped = (p: Path) => p.budgeting.endsWith("-cap");
export const metered = (p: Path) => !p.budgeting.startsWith("plain");

/** One faulted call's world: its model, its budget's four counters. */
export interface World {
  path: Path;
  model: ChatOpenAI;
  handler: BudgetCallbackHandler | undefined;
  store: InMemoryBudgetStore;
  sink: MemorySink;
  onCost: CostRecord[];
  /** Call options for the path (its handler, the quota's metadata), with `extra` merged in. */
  options(extra?: Record<string, unknown>): Record<string, unknown>;
}

export function world(
  server: FakeOpenAI,
  path: Path,
  fields: Partial<MeteredChatModelFields> = {},
  budget: { limitUsd?: number; quotaUsd?: number; holdWaitMs?: number; store?: InMemoryBudgetStore } = {},
): World {
  const store = budget.store ?? new InMemoryBudgetStore();
  const sink = new MemorySink();
  const onCost: CostRecord[] = [];
  const limitUsd = budget.limitUsd ?? 1;
  const quotas = [{ ...QUOTA, limitUsd: budget.quotaUsd ?? QUOTA.limitUsd }];
  const shared = { limitUsd, quotas, store, meter: sink, ...(budget.holdWaitMs !== undefined ? { holdWaitMs: budget.holdWaitMs } : {}) };
  const connection = {
    model: "gpt-4o-mini",
    apiKey: "test",
    maxRetries: 0,
    maxTokens: MAX_TOKENS,
    useResponsesApi: path.api === "responses",
    configuration: { baseURL: server.url, logLevel: "off" as const },
  };
  // Every record reaches our list first; a given onCost (one that throws) is called after.
  const observe = (record: CostRecord) => {
    onCost.push(record);
    fields.onCost?.(record);
  };
  let model: ChatOpenAI;
  let handler: BudgetCallbackHandler | undefined;
  switch (path.budgeting) {
    case "own":
    case "own-cap":
      model = new MeteredChatModel({ ...connection, ...fields, onCost: observe, budget: { ...shared, hardCap: path.budgeting === "own-cap" } });
      break;
    case "handler-cap":
      handler = new BudgetCallbackHandler({ ...shared, hardCap: true });
      model = new MeteredChatModel({ ...connection, ...fields, onCost: observe });
      break;
    case "plain":
    case "plain-cap":
      handler = new BudgetCallbackHandler({ ...shared, hardCap: path.budgeting === "plain-cap" });
      model = new ChatOpenAI({ ...connection, ...(fields as object) });
      break;
  }
  return {
    path,
    model,
    handler,
    store,
    sink,
    onCost,
    options: (extra = {}) => ({ metadata: METADATA, ...(handler ? { callbacks: [handler] } : {}), ...extra }),
  };
}

/** What one call ended with. */
export interface Outcome {
  error: unknown;
  /** Chunks (stream) or the message (invoke) received. */
  received: BaseMessage[];
}

/** Calls the model on the path's mode; a stream is read to its end (or `consume` stops it). Never throws. */
export async function call(
  w: World,
  extra: Record<string, unknown> = {},
  consume?: (chunk: BaseMessage, index: number) => "stop" | void,
): Promise<Outcome> {
  const received: BaseMessage[] = [];
  try {
    if (w.path.mode === "invoke") {
      received.push(await w.model.invoke(PROMPT, w.options(extra)));
    } else {
      let i = 0;
      for await (const chunk of await w.model.stream(PROMPT, w.options(extra))) {
        received.push(chunk);
        if (consume?.(chunk, i++) === "stop") break;
      }
    }
    return { error: undefined, received };
  } catch (error) {
    return { error, received };
  }
}

/** The store's counter for the quota. */
export async function storeState(store: InMemoryBudgetStore): Promise<{ spentNano: number; reservedNano: number }> {
  const { states } = await store.check([{ key: QUOTA_KEY, limitNano: Number.MAX_SAFE_INTEGER }]);
  return { spentNano: states[0]?.spentNano ?? 0, reservedNano: states[0]?.reservedNano ?? 0 };
}

/** What the four counters and the provider's bill say once everything has settled. */
export interface Audit {
  /** Calls charged, by counter (`records` counts the handler's non-refused records; -1 when there is no handler). */
  onCost: number;
  records: number;
  lines: number;
  /** Nano-USD, by counter. */
  onCostNano: number;
  recordsNano: number;
  linesNano: number;
  storeNano: number;
  /** What is still held: the store's quota and the handler's run (nano-USD). */
  storeHeldNano: number;
  handlerHeldNano: number;
  /** Records charged $0. */
  zeroRecords: number;
  /** Requests the provider billed (status < 400) and their price. */
  billed: number;
  billedNano: number;
  estimated: number;
}

export async function audit(server: FakeOpenAI, w: World): Promise<Audit> {
  const store = await storeState(w.store);
  const charged = w.sink.charged();
  const records = w.handler ? w.handler.records.filter((r) => r.budget?.decision !== "refused") : undefined;
  // The model's own records are what onCost saw; a plain model's are the handler's.
  const priced = records ?? w.onCost;
  const bill = server.billedRequests();
  const sum = (xs: { cost: { nanoUsd: number } }[]) => xs.reduce((s, r) => s + r.cost.nanoUsd, 0);
  return {
    onCost: metered(w.path) ? w.onCost.length : -1,
    records: records ? records.length : -1,
    lines: charged.length,
    onCostNano: metered(w.path) ? sum(w.onCost) : -1,
    recordsNano: records ? sum(records) : -1,
    linesNano: charged.reduce((s, l) => s + l.costNanoUsd, 0),
    storeNano: store.spentNano,
    storeHeldNano: store.reservedNano,
    handlerHeldNano: w.handler ? Math.round(w.handler.heldUsd * 1e9) : 0,
    zeroRecords: priced.filter((r) => r.cost.nanoUsd === 0).length,
    billed: bill.length,
    billedNano: bill.reduce((s, e) => s + billedNano(e), 0),
    estimated: priced.filter((r) => r.estimated).length,
  };
}

/** Whether the counters agree with each other and nothing is held (what a settled world looks like). */
export function consistent(a: Audit): boolean {
  const counts = [a.onCost, a.records, a.lines].filter((n) => n >= 0);
  const sums = [a.onCostNano, a.recordsNano, a.linesNano, a.storeNano].filter((n) => n >= 0);
  return counts.every((n) => n === counts[0]) && sums.every((n) => n === sums[0]) && a.storeHeldNano === 0 && a.handlerHeldNano === 0;
}

/**
 * Waits (a few seconds at most) for the provider's bill and every counter to settle: an abort is seen by
 * the caller before the library's own end of the call (it counts tokens) has run.
 */
export async function settledAudit(server: FakeOpenAI, w: World, ms = 2_000): Promise<Audit> {
  await within(server.settled(), ms, "the fake's bill to settle");
  const deadline = Date.now() + ms;
  let a = await audit(server, w);
  while (!(consistent(a) && a.lines >= a.billed) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
    a = await audit(server, w);
  }
  return a;
}

/** `promise`, or a rejection naming `what` after `ms`: a hang fails in seconds, not at the test timeout. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hung: ${what} did not finish in ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Loads the tokenizer before the first test (a cut-short call is priced by counting tokens; the first load
 * takes seconds) on a throwaway server, whose keep-alive sockets would time out under the first test.
 */
export async function warmTokenizer(): Promise<void> {
  const warm = await startFakeOpenAI({ defaultReply: { usage: null } });
  try {
    await new MeteredChatModel({ model: "gpt-4o-mini", apiKey: "test", maxRetries: 0, budget: false, configuration: { baseURL: warm.url } }).invoke("warm up");
  } finally {
    await warm.close();
  }
}

/** Polls until `check` holds (1 ms steps, `ms` at most). */
export async function until(check: () => boolean, ms = 2_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition never held");
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** A short name for an error, for tables: its class (or name) and the start of its message. */
export function describeError(error: unknown): string {
  if (error === undefined) return "—";
  const e = error as { constructor?: { name?: string }; name?: string; message?: string };
  const cls = e.constructor?.name && e.constructor.name !== "Error" ? e.constructor.name : (e.name ?? "Error");
  return `${cls}: ${String(e.message ?? error).split("\n")[0]?.slice(0, 60)}`;
}

/**
 * LangChain logs every error a budget handler throws ("Error in handler BudgetCallbackHandler, …": a refusal, a
 * fault it names) before it rethrows it: expected in these suites, so dropped; anything else is still logged.
 */
export function quietHandlerErrors(): void {
  const error = console.error.bind(console);
  vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => {
    if (typeof args[0] === "string" && args[0].startsWith("Error in handler ")) return;
    error(...args);
  });
}
