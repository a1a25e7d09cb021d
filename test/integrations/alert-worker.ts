/**
 * One worker for the fleet-wide alert test (test/budget/alerts.test.ts): a separate Node process that spends
 * against one tenant's quota in a shared RedisBudgetStore and reports the threshold alerts it fired.
 * Protocol (IPC): `{ type: "ready" }`, then on `"go"` it makes its calls and sends `{ type: "done", alerts }`.
 */
import { BudgetCallbackHandler, MeteredChatModel, type ThresholdAlert } from "../../src/index.js";
import { RedisBudgetStore } from "../../src/integrations/redis.js";

const config = JSON.parse(process.argv[2] ?? "{}") as { redisUrl: string; openaiUrl: string; prefix: string; tenant: string; calls: number; limitUsd: number };
const store = new RedisBudgetStore({ url: config.redisUrl, prefix: config.prefix });
const alerts: ThresholdAlert[] = [];
const budget = new BudgetCallbackHandler({
  limitUsd: 100,
  quotas: [{ key: "tenant:{tenant}", limitUsd: config.limitUsd, window: "day" }],
  store,
  onThreshold: (alert) => void alerts.push(alert),
});
const model = new MeteredChatModel({ model: "gpt-4o-mini", apiKey: "test", maxRetries: 0, budget: false, configuration: { baseURL: config.openaiUrl } });

process.on("message", async (message) => {
  if (message !== "go") return;
  for (let i = 0; i < config.calls; i++) await model.invoke(`call ${i}`, { callbacks: [budget], metadata: { tenant: config.tenant } }).catch(() => {});
  process.send?.({ type: "done", alerts });
  await store.close();
  process.disconnect();
});
process.send?.({ type: "ready" });
