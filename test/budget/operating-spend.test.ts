/**
 * Reading spend: a quota's standing for a run's metadata (`quotaStatus`, on a budget handler and on a model,
 * from either store, equal to the store's counters), a run's total without a handler (`trackCost`), and a
 * call's cost range before it is sent (`estimateCost`, the worst case a hard cap holds).
 *
 * Prices (genai-prices 0.1.8, USD per 1M tokens): gpt-4o-mini input 0.15, output 0.60. 1000 in / 500 out:
 * $0.00015 + $0.0003 = $0.00045 per call.
 */
import { ChatOpenAI } from "@langchain/openai";
import { RunnableLambda } from "@langchain/core/runnables";
import { createAgent } from "langchain";
import { afterAll, describe, expect, it } from "vitest";
import {
  BudgetCallbackHandler,
  type BudgetStore,
  estimateCost,
  InMemoryBudgetStore,
  MeteredChatModel,
  QuotaKeyError,
  trackCost,
  UnknownModelPriceError,
} from "../../src/index.js";
import { RedisBudgetStore } from "../../src/integrations/redis.js";
import { useFakeOpenAI } from "../support/metered.js";
import { describeRedis, redisUrl, uniqueId } from "../support/redis.js";
import { ask, getWeather, weatherAgentReply } from "../integrations/langfuse-helpers.js";

const fake = useFakeOpenAI();
const USAGE = { promptTokens: 1000, completionTokens: 500 };

function quotaCases(name: string, makeStore: () => BudgetStore) {
  describe(`quotaStatus (${name})`, () => {
    it("each quota's window, spend, holds, what is left and when it resets, equal to the store's counters", async () => {
      const store = makeStore();
      const tenant = uniqueId("acme");
      const quotas = [
        { key: "tenant:{tenant}", limitUsd: 0.01, window: "day" as const },
        { key: "user:{user}", limitUsd: 0.002, window: "month" as const, timeZone: "Europe/Paris" },
      ];
      const budget = new BudgetCallbackHandler({ quotas, store, limitUsd: 100 });
      fake.server.setDefault({ usage: USAGE });
      const model = fake.model({ model: "gpt-4o-mini", budget: false });
      const metadata = { tenant, user: `${tenant}-u1` };
      for (const input of ["1", "2", "3"]) await model.invoke(input, { callbacks: [budget], metadata });

      const [day, month] = await budget.quotaStatus(metadata);
      expect(day).toMatchObject({ key: `tenant:${tenant}`, quota: "tenant:{tenant}", window: "day", limitUsd: 0.01, spentUsd: 0.00135, heldUsd: 0, remainingUsd: 0.00865 });
      expect(month).toMatchObject({ key: `user:${tenant}-u1`, window: "month", limitUsd: 0.002, spentUsd: 0.00135, remainingUsd: 0.00065 });
      // The day ends at the next UTC midnight; the month at the next first of the month, Paris time.
      const now = new Date(await store.now());
      expect(day?.resetsAt?.toISOString()).toBe(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1)).toISOString());
      expect(month?.resetsAt && month.resetsAt.getTime() > now.getTime()).toBe(true);
      // The figures are the store's own counters.
      const { states } = await store.check([{ key: `${day!.key}:${dayId(now)}`, limitNano: 10_000_000 }]);
      expect(states[0]?.spentNano).toBe(1_350_000);

      // Another tenant's quota is untouched; a missing field says which.
      const [other] = await budget.quotaStatus({ tenant: uniqueId("globex"), user: "u2" });
      expect(other).toMatchObject({ spentUsd: 0, remainingUsd: 0.01 });
      await expect(budget.quotaStatus({ tenant })).rejects.toThrow(QuotaKeyError);
    });

    it("a model reads its own budget's quotas the same way", async () => {
      const store = makeStore();
      const tenant = uniqueId("initech");
      fake.server.setDefault({ usage: USAGE });
      const model = fake.model({ model: "gpt-4o-mini", budget: { quotas: [{ key: "tenant:{tenant}", limitUsd: 1, window: "total" }], store } });
      await model.invoke("hi", { metadata: { tenant } });
      const [status] = await model.quotaStatus({ tenant });
      expect(status).toMatchObject({ key: `tenant:${tenant}`, window: "total", spentUsd: 0.00045, remainingUsd: 0.99955, resetsAt: undefined });
      expect(await fake.model({ model: "gpt-4o-mini", budget: false }).quotaStatus({ tenant })).toEqual([]);
    });
  });
}

/** The counter id of the UTC day `now` falls in (as `windows.ts` names it). */
const dayId = (now: Date) => `day:${now.toISOString().slice(0, 10)}`;

quotaCases("InMemoryBudgetStore", () => new InMemoryBudgetStore());
describeRedis("on Redis", () => {
  const stores: RedisBudgetStore[] = [];
  afterAll(async () => {
    for (const store of stores) await store.close();
  });
  quotaCases("RedisBudgetStore", () => {
    const store = new RedisBudgetStore({ url: redisUrl, prefix: `${uniqueId("status")}:` });
    stores.push(store);
    return store;
  });
  it("a store that is down: the error says the spend can't be read", async () => {
    const down = new RedisBudgetStore({ url: "redis://127.0.0.1:1", timeoutMs: 100 });
    stores.push(down);
    const budget = new BudgetCallbackHandler({ quotas: [{ key: "t:{t}", limitUsd: 1, window: "day" }], store: down });
    await expect(budget.quotaStatus({ t: "x" })).rejects.toThrow(/the quotas' spend can't be read/);
  });
});

describe("trackCost", () => {
  it("adds up every metered call of an agent run, without a handler; the models' budgets apply as usual", async () => {
    fake.server.setDefault(weatherAgentReply());
    const agent = createAgent({ model: fake.model({ model: "gpt-4o-mini" }), tools: [getWeather] });
    const { result, costUsd, records } = await trackCost(() => agent.invoke(ask("Paris")));
    const costs = result.messages.map((m) => (m.response_metadata as { cost?: { nanoUsd: number } }).cost?.nanoUsd).filter((n) => n !== undefined);
    expect(records).toHaveLength(2);
    expect(records.map((r) => r.cost.nanoUsd)).toEqual(costs);
    expect(Math.round(costUsd * 1e9)).toBe(costs.reduce((a, b) => a + b, 0));
    expect(records[0]?.budget).toMatchObject({ limitUsd: 2 }); // the model's own $2 run budget, as without trackCost
  });

  it("nests, keeps parallel tracks apart, and does not see plain models", async () => {
    fake.server.setDefault({ usage: USAGE });
    const metered = fake.model({ model: "gpt-4o-mini" });
    const plain = new ChatOpenAI({ model: "gpt-4o-mini", ...fake.connection() });
    const chain = RunnableLambda.from(async (input: string) => {
      await metered.invoke(input);
      return plain.invoke(input);
    });
    const outer = await trackCost(async () => {
      const [a, b] = await Promise.all([trackCost(() => metered.invoke("a")), trackCost(() => chain.invoke("b"))]);
      return [a, b] as const;
    });
    const [a, b] = outer.result;
    expect([a.costUsd, b.costUsd]).toEqual([0.00045, 0.00045]); // b's plain call is not metered
    expect(outer.records).toHaveLength(2);
    expect(outer.costUsd).toBe(0.0009);
  });

  it("sees streamed calls too", async () => {
    fake.server.script({ usage: USAGE });
    const model = fake.model({ model: "gpt-4o-mini" });
    const { costUsd, records } = await trackCost(async () => {
      for await (const _chunk of await model.stream("hi"));
    });
    expect(records).toHaveLength(1);
    expect(costUsd).toBe(0.00045);
  });

  it("rethrows what the run throws", async () => {
    await expect(trackCost(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
  });
});

describe("estimateCost", () => {
  it("the worst case is what a hard cap holds for the call once it counts the prompt; the least, the prompt alone", async () => {
    const estimate = await estimateCost("gpt-4o-mini", "Hello", { maxTokens: 100 });
    fake.server.script({ usage: { promptTokens: 8, completionTokens: 20 } });
    // Near its limit the cap counts the prompt's tokens (with plenty of room it holds a bound from its bytes,
    // 50 tokens here, a little more): $0.0000662 is room for the counted worst case, not for the bytes' one.
    const budget = new BudgetCallbackHandler({ limitUsd: 0.0000662, hardCap: true });
    await fake.model({ model: "gpt-4o-mini", maxTokens: 100 }).invoke("Hello", { callbacks: [budget] });
    expect(budget.records[0]?.budget).toMatchObject({ decision: "allowed", reservedUsd: estimate.maxUsd });
    // "Hello" counts 8 tokens (see test/budget/hard-cap.test.ts): 8 × $0.15/M = $0.0000012; with the margin, 41 in
    // and 100 out at the dearest rates: 41 × 0.15 + 100 × 0.60 per 1M = $0.00006615.
    expect(estimate).toEqual({ minUsd: 0.0000012, maxUsd: 0.00006615, inputTokens: 8, maxTokens: 100 });
  });

  it("takes messages, tools and prices; a model with no price says how to add one", async () => {
    const prices = { "my-model": { input: 1, output: 2 } };
    const estimate = await estimateCost("my-model", [{ role: "system", content: "Be brief." }, { role: "user", content: "Hello" }], { maxTokens: 10, prices });
    expect(estimate.inputTokens).toBeGreaterThan(8);
    await expect(estimateCost("my-model", "Hello")).rejects.toThrow(UnknownModelPriceError);
    await expect(estimateCost("my-model", "Hello")).rejects.toThrow(/estimateCost\("my-model", input, \{ prices:/);
  });
});

describe("plans: a quota's limit as a function of who is asking", () => {
  const plans = { gold: 1, free: 0.0005 };

  it("gold tenants and free tenants in one quota; the plan is asked once per window and key", async () => {
    const asked: string[] = [];
    const quota = {
      key: "tenant:{tenant}",
      window: "month" as const,
      // Async, as a plan kept in a database would be.
      limitUsd: async ({ key, metadata }: { key: string; metadata: Record<string, unknown> }) => {
        asked.push(key);
        return plans[metadata.plan as keyof typeof plans];
      },
    };
    const budget = new BudgetCallbackHandler({ quotas: [quota], limitUsd: 100 });
    fake.server.setDefault({ usage: USAGE });
    const model = fake.model({ model: "gpt-4o-mini", budget: false });
    const gold = { tenant: uniqueId("gold"), plan: "gold" };
    const free = { tenant: uniqueId("free"), plan: "free" };
    for (const input of ["1", "2"]) await model.invoke(input, { callbacks: [budget], metadata: gold });
    await model.invoke("1", { callbacks: [budget], metadata: free }); // $0.00045 of its $0.0005
    await model.invoke("2", { callbacks: [budget], metadata: free }).catch(() => {}); // crosses
    await expect(model.invoke("3", { callbacks: [budget], metadata: free })).rejects.toThrow(/refused|spent/);

    expect((await budget.quotaStatus(gold))[0]).toMatchObject({ limitUsd: 1, spentUsd: 0.0009 });
    expect((await budget.quotaStatus(free))[0]).toMatchObject({ limitUsd: 0.0005, remainingUsd: 0 });
    expect(asked.filter((key) => key === `tenant:${gold.tenant}`)).toHaveLength(1);
    expect(asked.filter((key) => key === `tenant:${free.tenant}`)).toHaveLength(1);
  });

  it("a plan that answers no number refuses the call before it is sent, saying so; it is asked again next time", async () => {
    let answer: unknown = "lots";
    const quota = { key: "tenant:{tenant}", window: "day" as const, limitUsd: () => answer as number };
    const budget = new BudgetCallbackHandler({ quotas: [quota] });
    fake.server.setDefault({ usage: USAGE });
    const model = fake.model({ model: "gpt-4o-mini", budget: false });
    const metadata = { tenant: uniqueId("t") };
    const before = fake.server.requests.length;
    await expect(model.invoke("hi", { callbacks: [budget], metadata })).rejects.toThrow(/tenant:\{tenant\}.*expected a number of USD ≥ 0, got "lots"/);
    expect(fake.server.requests.length).toBe(before);
    answer = 1;
    await expect(model.invoke("hi", { callbacks: [budget], metadata })).resolves.toBeDefined();
  });

  it("a plan is validated as a function; anything else is an options error", () => {
    expect(() => new BudgetCallbackHandler({ quotas: [{ key: "t:{t}", window: "day", limitUsd: "5" as never }] })).toThrow(/Expected a number of USD ≥ 0, or a plan/);
  });
});
