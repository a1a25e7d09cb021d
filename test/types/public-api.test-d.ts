/**
 * Type tests for the public surface (vitest typecheck: `npm test` runs them through tsc): what users write
 * compiles under `strict`, and what would be silently wrong doesn't.
 */
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { AIMessage } from "@langchain/core/messages";
import { RunnableLambda } from "@langchain/core/runnables";
import { describe, expectTypeOf, it } from "vitest";
import { budgetMiddleware } from "../../src/scope/budget-middleware.js";
import { CloudEventsMeterSink } from "../../src/integrations/cloudevents.js";
import { JsonlMeterSink } from "../../src/integrations/jsonl.js";
import { RedisBudgetStore } from "../../src/integrations/redis.js";
import {
  type BudgetEvent,
  type CostEstimate,
  estimateCost,
  type QuotaStatus,
  type ThresholdAlert,
  trackCost,
  BudgetCallbackHandler,
  InMemoryBudgetStore,
  meteredImportMap,
  withBudget,
  type BudgetExceededError,
  type Cost,
  type CostRecord,
  costOf,
  type EstimatedUsage,
  MeteredChatModel,
  type MeteredChatModelFields,
  meter,
} from "../../src/index.js";

declare const message: AIMessage;
declare const chatModel: BaseChatModel;

describe("costs are typed", () => {
  it("costOf gives a Cost or undefined", () => {
    expectTypeOf(costOf(message)).toEqualTypeOf<Cost | undefined>();
    expectTypeOf(costOf(message)?.totalUsd).toEqualTypeOf<number | undefined>();
    expectTypeOf<Cost["estimatedUsage"]>().toEqualTypeOf<EstimatedUsage | undefined>();
  });

  it("the README's first example compiles", async () => {
    const model = new MeteredChatModel({ model: "gpt-4o-mini", temperature: 0 });
    const answer = await model.invoke("Hello");
    const usd: number | undefined = costOf(answer)?.totalUsd;
    expectTypeOf(usd).toEqualTypeOf<number | undefined>();
  });

  it("records and errors carry numbers", () => {
    expectTypeOf<CostRecord["cost"]>().toEqualTypeOf<Cost>();
    expectTypeOf<BudgetExceededError["spentUsd"]>().toEqualTypeOf<number>();
    expectTypeOf<BudgetExceededError["heldUsd"]>().toEqualTypeOf<number>();
  });
});

describe("options that would be silently wrong are type errors", () => {
  it("in an inline object", () => {
    // @ts-expect-error `budjet` is not an option
    new MeteredChatModel({ model: "gpt-4o-mini", budjet: { limitUsd: 1 } });
    // @ts-expect-error `limitUSD` is spelt `limitUsd`
    new MeteredChatModel({ model: "gpt-4o-mini", budget: { limitUSD: 1 } });
    // @ts-expect-error `budget: true` is not a budget
    new MeteredChatModel({ model: "gpt-4o-mini", budget: true });
    // @ts-expect-error `onStoreError` is "deny" or "allow"
    new MeteredChatModel({ model: "gpt-4o-mini", budget: { onStoreError: "Deny" } });
    // @ts-expect-error `hardCap` is a boolean
    new BudgetCallbackHandler({ limitUsd: 1, hardCap: "false" });
    // @ts-expect-error `limitUSD` is spelt `limitUsd`
    new BudgetCallbackHandler({ limitUSD: 1 });
  });

  it("in a typed options object built elsewhere", () => {
    const fields = { model: "gpt-4o-mini", budget: { limitUsd: 1, hardCap: true } } satisfies MeteredChatModelFields;
    new MeteredChatModel(fields);
    // @ts-expect-error a misspelt key in a declared MeteredChatModelFields
    const wrong: MeteredChatModelFields = { model: "gpt-4o-mini", budget: { limitUsd: 1, hardcap: true } };
    void wrong;
  });

  it("meter() takes metering options", () => {
    expectTypeOf(meter).parameter(1).toMatchTypeOf<{ budget?: unknown } | undefined>();
    // @ts-expect-error a budget option belongs in `budget`
    meter(chatModel, { quotas: [] });
    // @ts-expect-error `hardcap` is spelt `hardCap`
    meter(chatModel, { budget: { hardcap: true } });
  });

  it("at every other entry point", () => {
    // @ts-expect-error `limitUSD` is spelt `limitUsd`
    withBudget(RunnableLambda.from(() => 1), { limitUSD: 1 });
    // @ts-expect-error `exitBehavior` is "end" or "error"
    budgetMiddleware({ exitBehavior: "stop" });
    // @ts-expect-error `maxRememberedCall` is spelt `maxRememberedCalls`
    new InMemoryBudgetStore({ maxRememberedCall: 10 });
    // @ts-expect-error `uri` is spelt `url`
    new RedisBudgetStore({ uri: "redis://cache:6379" });
    // @ts-expect-error `includeContents` is spelt `includeContent`
    new JsonlMeterSink("usage.jsonl", { includeContents: true });
  });

  it("at the billing sink, and in a quota plan", () => {
    // @ts-expect-error `batchsize` is spelt `batchSize`
    new CloudEventsMeterSink({ url: "http://127.0.0.1:1/events", batchsize: 10 });
    // A plan returns a number (or a promise of one) from who is asking.
    new BudgetCallbackHandler({ quotas: [{ key: "tenant:{tenant}", window: "month", limitUsd: async ({ fields }) => (fields.tenant === "gold" ? 500 : 5) }] });
    // @ts-expect-error a plan answers a number of USD
    new BudgetCallbackHandler({ quotas: [{ key: "tenant:{tenant}", window: "month", limitUsd: () => "500" }] });
  });

  it("reading spend is typed", async () => {
    const tracked = await trackCost(async () => 42);
    expectTypeOf(tracked.result).toEqualTypeOf<number>();
    expectTypeOf(tracked.costUsd).toEqualTypeOf<number>();
    expectTypeOf(tracked.records).toEqualTypeOf<CostRecord[]>();
    expectTypeOf(await estimateCost("gpt-4o-mini", "hi")).toEqualTypeOf<CostEstimate>();
    expectTypeOf(new BudgetCallbackHandler().quotaStatus({ tenant: "acme" })).resolves.toEqualTypeOf<QuotaStatus[]>();
    new BudgetCallbackHandler({ onThreshold: (alert) => expectTypeOf(alert).toEqualTypeOf<ThresholdAlert>(), onEvent: (event) => expectTypeOf(event.type).toEqualTypeOf<BudgetEvent["type"]>() });
  });

  it("meteredImportMap is load()'s optionalImportsMap", () => {
    expectTypeOf(meteredImportMap).toMatchTypeOf<Record<string, Record<string, unknown>>>();
  });
});
