/**
 * One worker of a fleet, for test/integrations/redis-fleet.test.ts: a separate Node process (forked with
 * `node --import tsx`) that spends against one tenant's quota in a shared RedisBudgetStore, through a
 * MeteredChatModel under a hard cap, and logs every priced call to its own JSONL file.
 *
 * Protocol (IPC): the worker sends `{ type: "ready" }` once loaded, waits for `"go"` (so the whole fleet
 * starts at once), then runs `lanes` loops of calls in parallel until `maxCalls` calls were tried or the
 * parent sends `"stop"`. `"slow"` makes it start one extra call with the prompt "SLOW" (the test's fake
 * OpenAI holds those for 10 s: a call in flight to kill the worker in); `"drain"` asks it to answer
 * `{ type: "drained" }` once no end of a call is waiting to be redelivered to the store. When its lanes are done it waits for
 * the ends of calls its store had not taken (redelivered once the store is back), flushes its log, and sends
 * `{ type: "done", ... }` with its tallies.
 */
import { pendingStoreEnds } from "../../src/budget/quota-side.js";
import {
  BudgetCallbackHandler,
  BudgetExceededError,
  BudgetStoreUnavailableError,
  MeteredChatModel,
  type Quota,
} from "../../src/index.js";
import { JsonlMeterSink } from "../../src/integrations/jsonl.js";
import { RedisBudgetStore } from "../../src/integrations/redis.js";
import { encoderFor } from "../../src/usage/tokenizer.js";

export interface WorkerConfig {
  name: string;
  /** The Redis to share (`redis://…`), or "" with `clusterNodes`. */
  redisUrl: string;
  /** A Redis Cluster to share instead (`RedisBudgetStore({ cluster })`). */
  clusterNodes?: Array<{ host: string; port: number }>;
  openaiUrl: string;
  apiKey: string;
  tenant: string;
  quotaUsd: number;
  /** A second quota, per user (`user:{user_id}`, same window), for this worker's user: on a cluster, another slot. */
  user?: { id: string; quotaUsd: number };
  /** The quota's window. Default "month". */
  window?: "month" | "total";
  logPath: string;
  /** `model`: the model's own per-run budget (`budget: { hardCap, quotas, store, meter }`); `handler`: a
   *  `BudgetCallbackHandler({ hardCap: true, ... })` per call, passed in its callbacks. */
  mode: "model" | "handler";
  /** Calls in flight at once in this process. */
  lanes: number;
  /** Calls this worker tries at most (refused ones included). Default: until "stop". */
  maxCalls?: number;
  /** A lane stops after this many budget refusals in a row (the quota is spent). Default: never. */
  maxRefusals?: number;
  prompt: string;
  /** The model's max tokens. Default 500. */
  maxTokens?: number;
  /** How long a hold lives if this process dies before ending its call. Default 10 minutes. */
  reservationTtlMs?: number;
  /** The model's request timeout (ms); the model requires reservationTtlMs above it. Default none. */
  timeoutMs?: number;
  /** How long a hard-capped call waits for other holds to end. Default 60 s. */
  holdWaitMs?: number;
  onStoreError?: "deny" | "allow";
  /** RedisBudgetStore's `timeoutMs`. Default 5000. */
  storeTimeoutMs?: number;
  /** A pause between a lane's calls (ms). Default 0. */
  pauseMs?: number;
}

export interface WorkerReport {
  type: "done";
  name: string;
  /** Calls whose request was sent and that ended normally. */
  sent: number;
  /** Refused by the budget (a quota spent, or no room for its worst case once `holdWaitMs` was over). */
  refused: number;
  /** Refused because the store was unavailable (fail closed). */
  unavailable: number;
  /** How long each of those refusals took, ms. */
  unavailableMs: number[];
  /** Sent, then crossed a limit. */
  exceeded: number;
  /** What the quota had spent, per its store, when each budget refusal was made (USD). */
  refusedAtSpentUsd: number[];
  /** The messages of the first budget refusals of each kind. */
  refusals: string[];
  /** Whether ends of calls were still being redelivered when the worker gave up waiting for them. */
  redeliveriesLeft: boolean;
  errors: string[];
}

const config = JSON.parse(process.argv[2] ?? "{}") as WorkerConfig;
// A generous deadline by default: a test about the quota under contention, on a machine that may be busy.
const store = new RedisBudgetStore({
  ...(config.clusterNodes ? { cluster: config.clusterNodes } : { url: config.redisUrl }),
  timeoutMs: config.storeTimeoutMs ?? 5000,
});
const meter = new JsonlMeterSink(config.logPath);
const quotas: Quota[] = [
  { key: "tenant:{tenant_id}", limitUsd: config.quotaUsd, window: config.window ?? "month" },
  ...(config.user ? [{ key: "user:{user_id}", limitUsd: config.user.quotaUsd, window: config.window ?? "month" }] : []),
];
const settings = {
  limitUsd: 1,
  hardCap: true,
  quotas,
  store,
  meter,
  ...(config.reservationTtlMs !== undefined ? { reservationTtlMs: config.reservationTtlMs } : {}),
  ...(config.holdWaitMs !== undefined ? { holdWaitMs: config.holdWaitMs } : {}),
  ...(config.onStoreError ? { onStoreError: config.onStoreError } : {}),
};
const model = new MeteredChatModel({
  model: "gpt-4o-mini",
  apiKey: config.apiKey,
  maxRetries: 0,
  maxTokens: config.maxTokens ?? 500,
  ...(config.timeoutMs !== undefined ? { timeout: config.timeoutMs } : {}),
  configuration: { baseURL: config.openaiUrl },
  ...(config.mode === "model" ? { budget: settings } : {}),
});

const report: WorkerReport = {
  type: "done",
  name: config.name,
  sent: 0,
  refused: 0,
  unavailable: 0,
  unavailableMs: [],
  exceeded: 0,
  refusedAtSpentUsd: [],
  refusals: [],
  redeliveriesLeft: false,
  errors: [],
};
let attempts = 0;
let stopping = false;
const extra: Array<Promise<unknown>> = [];

async function call(prompt: string): Promise<"sent" | "refused" | "other"> {
  const callbacks = config.mode === "handler" ? [new BudgetCallbackHandler(settings)] : undefined;
  const started = performance.now();
  try {
    await model.invoke(prompt, { metadata: { tenant_id: config.tenant, ...(config.user ? { user_id: config.user.id } : {}) }, callbacks });
    report.sent++;
    return "sent";
  } catch (error) {
    if (BudgetExceededError.isInstance(error) && error.stop === "refused") {
      report.refused++;
      report.refusedAtSpentUsd.push(error.spentUsd);
      const kind = error.message.replace(/[\d.$]+/g, "#");
      if (!report.refusals.some((m) => m.replace(/[\d.$]+/g, "#") === kind)) report.refusals.push(error.message);
      return "refused";
    }
    if (BudgetStoreUnavailableError.isInstance(error)) {
      report.unavailable++;
      report.unavailableMs.push(Math.round((performance.now() - started) * 10) / 10);
    } else if (BudgetExceededError.isInstance(error)) {
      report.sent++;
      report.exceeded++;
    } else {
      report.errors.push(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
    }
    return "other";
  }
}

async function lane(): Promise<void> {
  let refusedInARow = 0;
  while (!stopping && attempts < (config.maxCalls ?? Number.POSITIVE_INFINITY) && refusedInARow < (config.maxRefusals ?? Number.POSITIVE_INFINITY)) {
    attempts++;
    const outcome = await call(config.prompt);
    refusedInARow = outcome === "refused" ? refusedInARow + 1 : 0;
    if (report.errors.length > 20) return;
    // After a refusal (spent quota, store down), a short random pause: a client backing off, not a spin.
    const pause = outcome === "sent" ? (config.pauseMs ?? 0) : 5 + Math.random() * 10;
    if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

process.on("message", (message) => {
  if (message === "stop") stopping = true;
  if (message === "slow") extra.push(call("SLOW"));
  if (message === "drain") void pendingStoreEnds().then(() => process.send?.({ type: "drained" }));
  if (message !== "go") return;
  void (async () => {
    await Promise.all(Array.from({ length: config.lanes }, lane));
    await Promise.allSettled(extra);
    // Ends of calls the store didn't take while it was down are redelivered once it is back: wait for them
    // (a bounded wait: the report says whether any were left).
    let timer: NodeJS.Timeout | undefined;
    const waited = await Promise.race([
      pendingStoreEnds().then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), 30_000))),
    ]);
    clearTimeout(timer);
    report.redeliveriesLeft = !waited;
    await meter.flush();
    await store.close();
    process.send?.(report, () => process.disconnect());
  })();
});
// The hard cap counts input tokens locally; loading the tokenizer blocks the event loop for seconds, long
// enough for Redis operations of the other lanes to time out (fail closed). Load it before the fleet starts.
await encoderFor("gpt-4o-mini");
process.send?.({ type: "ready", name: config.name, pid: process.pid });
