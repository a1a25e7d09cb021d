/**
 * One worker of a fleet, for test/integrations/redis-fleet.test.ts: a separate Node process (forked with
 * `node --import tsx`) that spends against one tenant's quota in a shared RedisBudgetStore, through a
 * MeteredChatModel under a hard cap, and logs every priced call to its own JSONL file.
 *
 * Protocol (IPC): the worker sends `{ type: "ready" }` once loaded, waits for `"go"` (so the whole fleet
 * starts at once), runs `lanes` loops of calls in parallel, and sends `{ type: "done", ... }` with its tallies.
 */
import {
  BudgetCallbackHandler,
  BudgetExceededError,
  MeteredChatModel,
  type Quota,
} from "../../src/index.js";
import { JsonlMeterSink } from "../../src/integrations/jsonl.js";
import { RedisBudgetStore } from "../../src/integrations/redis.js";
import { encoderFor } from "../../src/usage/tokenizer.js";

export interface WorkerConfig {
  name: string;
  redisUrl: string;
  openaiUrl: string;
  apiKey: string;
  tenant: string;
  quotaUsd: number;
  logPath: string;
  /** `model`: the model's own per-run budget (`budget: { hardCap, quotas, store, meter }`); `handler`: a
   *  `BudgetCallbackHandler({ hardCap: true, ... })` per call, passed in its callbacks. */
  mode: "model" | "handler";
  /** Calls in flight at once in this process. */
  lanes: number;
  /** Calls this worker tries at most (refused ones included). */
  maxCalls: number;
  /** A lane stops after this many refusals in a row (the quota is spent). */
  maxRefusals: number;
  prompt: string;
  /** handler mode: how long a hold lives if this process dies before settling it. */
  reservationTtlMs?: number;
}

export interface WorkerReport {
  type: "done";
  name: string;
  sent: number;
  refused: number;
  exceeded: number;
  errors: string[];
}

const config = JSON.parse(process.argv[2] ?? "{}") as WorkerConfig;
// A generous deadline: this test is about the quota under contention, on a machine that may be busy.
const store = new RedisBudgetStore({ url: config.redisUrl, timeoutMs: 5000 });
const meter = new JsonlMeterSink(config.logPath);
const quotas: Quota[] = [{ key: "tenant:{tenant_id}", limitUsd: config.quotaUsd, window: "month" }];
const settings = { limitUsd: 1, hardCap: true, quotas, store, meter };
const model = new MeteredChatModel({
  model: "gpt-4o-mini",
  apiKey: config.apiKey,
  maxRetries: 0,
  maxTokens: 500,
  configuration: { baseURL: config.openaiUrl },
  ...(config.mode === "model" ? { budget: settings } : {}),
});

const report: WorkerReport = { type: "done", name: config.name, sent: 0, refused: 0, exceeded: 0, errors: [] };
let attempts = 0;

async function lane(): Promise<void> {
  let refusedInARow = 0;
  while (attempts < config.maxCalls && refusedInARow < config.maxRefusals) {
    attempts++;
    const callbacks =
      config.mode === "handler"
        ? [new BudgetCallbackHandler({ ...settings, reservationTtlMs: config.reservationTtlMs ?? 600_000 })]
        : undefined;
    try {
      await model.invoke(config.prompt, { metadata: { tenant_id: config.tenant }, callbacks });
      report.sent++;
      refusedInARow = 0;
    } catch (error) {
      if (BudgetExceededError.isInstance(error) && error.stop === "refused") {
        report.refused++;
        refusedInARow++;
        await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 10));
      } else if (BudgetExceededError.isInstance(error)) {
        report.sent++;
        report.exceeded++;
      } else {
        report.errors.push(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
        if (report.errors.length > 5) return;
      }
    }
  }
}

process.on("message", async (message) => {
  if (message !== "go") return;
  await Promise.all(Array.from({ length: config.lanes }, lane));
  await meter.flush();
  await store.close();
  process.send?.(report, () => process.disconnect());
});
// The hard cap counts input tokens locally; loading the tokenizer blocks the event loop for seconds, long
// enough for Redis operations of the other lanes to time out (fail closed). Load it before the fleet starts.
await encoderFor("gpt-4o-mini");
process.send?.({ type: "ready", name: config.name, pid: process.pid });
