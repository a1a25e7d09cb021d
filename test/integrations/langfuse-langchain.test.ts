/**
 * `langchain-metered/langfuse-langchain` against the real v3 SDK (`langfuse-langchain`), which sends its
 * batches to a loopback receiver speaking Langfuse's ingestion API. What is asserted is what reached it.
 */
import { awaitAllCallbacks } from "@langchain/core/callbacks/promises";
import { HumanMessage } from "@langchain/core/messages";
import { ChatOpenAI } from "@langchain/openai";
import { Langfuse, CallbackHandler as StockHandler } from "langfuse-langchain";
import { createAgent } from "langchain";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CallbackHandler } from "../../src/integrations/langfuse-langchain.js";
import { BudgetCallbackHandler, BudgetExceededError, priceUsage } from "../../src/index.js";
import { collect, useFakeOpenAI } from "../support/metered.js";
import {
  aiMessages,
  ask,
  costOf,
  expectPricedLikeUsage,
  getWeather,
  rootOf,
  sorted,
  useLangfuseReceiver,
  weatherAgentReply,
} from "./langfuse-helpers.js";

const fake = useFakeOpenAI();
const receiver = useLangfuseReceiver();

function handler(): CallbackHandler {
  const { url, publicKey, secretKey } = receiver();
  return new CallbackHandler({ publicKey, secretKey, baseUrl: url });
}

afterEach(() => vi.restoreAllMocks());

describe("langchain-metered/langfuse-langchain (v3 SDK)", () => {
  it("invoke: the generation's cost is the message's, keyed like its usage, with total and traceId", async () => {
    const langfuse = handler();
    fake.server.script({ usage: { promptTokens: 1000, completionTokens: 200, cachedTokens: 200, reasoningTokens: 50 } });
    const message = await fake.model().invoke("Hello", { callbacks: [langfuse] });
    await langfuse.flushAsync();

    const [generation, ...others] = receiver().generations();
    expect(others).toHaveLength(0);
    expectPricedLikeUsage(generation!);
    expect(generation!.costDetails?.total).toBe(costOf(message).totalUsd);
    expect(Object.keys(generation!.usageDetails ?? {})).toEqual(
      expect.arrayContaining(["input", "output", "total", "input_cache_read", "output_reasoning"]),
    );
    expect(generation!.traceId).toBe(generation!.id); // a bare call is its own trace
    // A bare call is its own run, with its own $2 budget: the trace shows the budget's view of it too.
    expect(generation!.metadata?.metered).toEqual({
      price: { source: "genai-prices", version: "0.1.8", model: "gpt-4o-mini", estimated: false },
      budget: { decision: "allowed", limitUsd: 2, spentUsd: 0.000255, remainingUsd: 1.999745 },
    });
    expect(receiver().unauthorized).toBe(0);
  });

  it("stream: the cost on the usage chunk reaches the generation", async () => {
    const langfuse = handler();
    fake.server.script({ usage: { promptTokens: 300, completionTokens: 40 } });
    const { message } = await collect(await fake.model().stream("Hello", { callbacks: [langfuse] }));
    await langfuse.flushAsync();

    const [generation] = receiver().generations();
    expectPricedLikeUsage(generation!);
    expect(generation!.costDetails?.total).toBe(costOf(message).totalUsd);
  });

  it("agent run with a tool: every generation carries its own message's cost and the run's budget", async () => {
    const langfuse = handler();
    fake.server.setDefault(weatherAgentReply());
    const agent = createAgent({ model: fake.model(), tools: [getWeather] });
    const result = await agent.invoke(ask("Paris"), { callbacks: [langfuse] });
    await langfuse.flushAsync();

    const costs = aiMessages(result.messages).map((m) => costOf(m).totalUsd);
    const generations = receiver().generations();
    expect(generations).toHaveLength(2);
    generations.forEach(expectPricedLikeUsage);
    expect(sorted(generations.map((g) => g.costDetails!.total!))).toEqual(sorted(costs));
    expect(new Set(generations.map((g) => g.traceId)).size).toBe(1);
    expect(receiver().traceIds()).toEqual([generations[0]!.traceId]);

    const budgets = generations.map((g) => (g.metadata?.metered as { budget?: Record<string, unknown> }).budget);
    const spent = sorted(budgets.map((b) => b?.spentUsd as number));
    const [first = NaN, second = NaN] = aiMessages(result.messages).map((m) => costOf(m).nanoUsd);
    expect(spent).toEqual([first, first + second].map((nano) => nano / 1e9)); // the spend after each call
    for (const budget of budgets) {
      expect(budget).toMatchObject({ decision: "allowed", limitUsd: 2 });
      expect(budget!.remainingUsd).toBeCloseTo(2 - (budget!.spentUsd as number), 12);
    }
  });

  it("a run stopped by its budget shows `exceeded`, and the crossing call's cost, on its last generation", async () => {
    const langfuse = handler();
    // $0.00045 a call; the third call takes the spend ($0.00135) over $0.001.
    fake.server.setDefault({ usage: { promptTokens: 1000, completionTokens: 500 }, toolCalls: [{ name: "get_weather", arguments: { city: "Paris" } }] });
    const agent = createAgent({ model: fake.model({ budget: { limitUsd: 0.001 } }), tools: [getWeather] });
    const error = await agent.invoke(ask("Paris"), { callbacks: [langfuse] }).catch((e: unknown) => e);
    expect(BudgetExceededError.isInstance(error)).toBe(true);
    await langfuse.flushAsync();

    const generations = receiver().generations();
    expect(generations).toHaveLength(3);
    const last = generations.find((g) => g.level === "ERROR");
    expect(last?.metadata?.metered).toMatchObject({
      budget: { decision: "exceeded", limitUsd: 0.001, spentUsd: 0.00135, remainingUsd: 0 },
    });
    expect(last?.costDetails?.total).toBe(0.00045);
    expectPricedLikeUsage(last!);
    const allowed = generations.filter((g) => g !== last);
    expect(allowed.map((g) => (g.metadata?.metered as { budget: { decision: string } }).budget.decision)).toEqual(["allowed", "allowed"]);
  });

  it("after a budget downgrade, the generation names the model that answered", async () => {
    fake.server.setDefault({ usage: { promptTokens: 1000, completionTokens: 100 } });
    const langfuse = handler();
    const budget = new BudgetCallbackHandler({ limitUsd: 0.01 });
    const model = fake.model({ model: "gpt-4o", budget: { limitUsd: 0.01, downgrade: { atFraction: 0.5, to: "gpt-4o-mini" } } });
    for (const input of ["1", "2", "3"]) {
      await model.invoke(input, { callbacks: [budget, langfuse] });
      await awaitAllCallbacks(); // the v3 handler runs in LangChain's background callback queue
      await langfuse.flushAsync();
    }
    // $0.0035 twice takes the run past half of $0.01: the third call goes to gpt-4o-mini.
    const generations = receiver().generations();
    expect(generations.map((g) => g.model)).toEqual(["gpt-4o", "gpt-4o", "gpt-4o-mini"]);
    expect(generations.at(-1)?.metadata?.metered).toMatchObject({ price: { model: "gpt-4o-mini", downgradedFrom: "gpt-4o" } });
  });

  it("an explicit budget: the call that crosses shows `exceeded` and its cost, the next one `refused`", async () => {
    const langfuse = handler();
    const budget = new BudgetCallbackHandler({ limitUsd: 0.0004 });
    fake.server.setDefault({ usage: { promptTokens: 1000, completionTokens: 500 } }); // $0.00045 a call
    const model = fake.model();
    const options = { callbacks: [budget, langfuse], signal: budget.signal };
    const errors = [await model.invoke("one", options).catch((e: unknown) => e), await model.invoke("two", options).catch((e: unknown) => e)];
    expect(errors.map((e) => BudgetExceededError.isInstance(e) && e.stop)).toEqual(["exceeded", "refused"]);
    await langfuse.flushAsync();

    const [crossed, refused] = receiver().generations();
    expect(crossed?.metadata?.metered).toMatchObject({ budget: { decision: "exceeded", limitUsd: 0.0004, spentUsd: 0.00045, remainingUsd: 0 } });
    expect(crossed?.costDetails?.total).toBe(0.00045);
    expect(refused?.metadata?.metered).toEqual({ budget: { decision: "refused", limitUsd: 0.0004, spentUsd: 0.00045, remainingUsd: 0 } });
    expect(refused?.costDetails).toBeUndefined();
    expect(fake.server.requests).toHaveLength(1);
  });

  it("a bare call stopped by its per-run budget shows the stop, from the error", async () => {
    const langfuse = handler();
    fake.server.script({ usage: { promptTokens: 1000, completionTokens: 500 } });
    const error = await fake.model({ budget: { limitUsd: 0.0001 } }).invoke("Hello", { callbacks: [langfuse] }).catch((e: unknown) => e);
    expect(BudgetExceededError.isInstance(error)).toBe(true);
    await langfuse.flushAsync();

    const [generation] = receiver().generations();
    expect(generation?.level).toBe("ERROR");
    // The error leads back to the call's record: its price and the budget's view of it.
    expect(generation?.metadata?.metered).toEqual({
      price: { source: "genai-prices", version: "0.1.8", model: "gpt-4o-mini", estimated: false },
      budget: { decision: "exceeded", limitUsd: 0.0001, spentUsd: 0.00045, remainingUsd: 0 },
    });
    expect(generation?.costDetails?.total).toBe(0.00045);
  });

  it("concurrent runs through one handler keep each cost on its own generation and in its own trace", async () => {
    const langfuse = handler();
    fake.server.setDefault(weatherAgentReply({ chunkDelayMs: 15 }));
    const agent = createAgent({ model: fake.model(), tools: [getWeather] });
    const runs = await Promise.all(["Paris", "Lyon"].map((city) => agent.invoke(ask(city), { callbacks: [langfuse] })));
    await langfuse.flushAsync();

    const observations = receiver().observations();
    const generations = receiver().generations();
    expect(generations).toHaveLength(4);
    expect(new Set(generations.map((g) => g.id)).size).toBe(4);
    // Every observation, generations included, is filed under the trace its own run's root opened.
    expect(observations.filter((o) => o.traceId !== rootOf(o, observations).id)).toEqual([]);
    const traces = new Map<string, number[]>();
    for (const generation of generations) {
      expectPricedLikeUsage(generation);
      traces.set(generation.traceId!, [...(traces.get(generation.traceId!) ?? []), generation.costDetails!.total!]);
    }
    expect(traces.size).toBe(2);
    const expected = runs.map((run) => sorted(aiMessages(run.messages).map((m) => costOf(m).totalUsd)));
    expect([...traces.values()].map(sorted).sort((a, b) => a[0]! - b[0]!)).toEqual(expected.sort((a, b) => a[0]! - b[0]!));
  });

  it("(why: the stock handler files concurrent runs' observations under one another's traces)", async () => {
    const { url, publicKey, secretKey } = receiver();
    const stock = new StockHandler({ publicKey, secretKey, baseUrl: url });
    fake.server.setDefault(weatherAgentReply({ chunkDelayMs: 15 }));
    const agent = createAgent({ model: fake.model(), tools: [getWeather] });
    await Promise.all(["Paris", "Lyon"].map((city) => agent.invoke(ask(city), { callbacks: [stock] })));
    await stock.flushAsync();
    const observations = receiver().observations();
    // If this starts failing, langfuse-langchain fixed it, and RunTraces can go.
    expect(observations.filter((o) => o.traceId !== rootOf(o, observations).id).length).toBeGreaterThan(0);
  });

  it("with a root trace given (`root`), costs land on the generations of that trace", async () => {
    const { url, publicKey, secretKey } = receiver();
    const client = new Langfuse({ publicKey, secretKey, baseUrl: url });
    const trace = client.trace({ name: "my request" });
    const langfuse = new CallbackHandler({ root: trace });
    fake.server.setDefault(weatherAgentReply());
    await createAgent({ model: fake.model(), tools: [getWeather] }).invoke(ask("Lyon"), { callbacks: [langfuse] });
    await langfuse.flushAsync();

    const generations = receiver().generations();
    expect(generations).toHaveLength(2);
    for (const generation of generations) {
      expectPricedLikeUsage(generation);
      expect(generation.traceId).toBe(trace.id);
    }
  });

  it("prices a plain chat model from its usage", async () => {
    const langfuse = handler();
    fake.server.script({ usage: { promptTokens: 1000, completionTokens: 100, cachedTokens: 500 } });
    const model = new ChatOpenAI({ model: "gpt-4o-mini", ...fake.connection() });
    const message = await model.invoke([new HumanMessage("Hello")], { callbacks: [langfuse] });
    await langfuse.flushAsync();

    const [generation] = receiver().generations();
    expectPricedLikeUsage(generation!);
    expect(generation!.costDetails?.total).toBe(priceUsage(message.usage_metadata!, "gpt-4o-mini").totalUsd);
  });

  it("sends no cost for a model it can't price, and says so once", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const langfuse = handler();
    const model = new ChatOpenAI({ model: "my-private-model", ...fake.connection() });
    await model.invoke("Hello", { callbacks: [langfuse] });
    await model.invoke("Hello", { callbacks: [langfuse] });
    await langfuse.flushAsync();

    expect(receiver().generations().map((g) => g.costDetails)).toEqual([undefined, undefined]);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toContain("my-private-model");
  });

  it("sends what the stock handler sends, plus one cost update per generation", async () => {
    const { url, publicKey, secretKey } = receiver();
    const stock = new StockHandler({ publicKey, secretKey, baseUrl: url });
    const agent = createAgent({ model: fake.model(), tools: [getWeather] });
    const count = () =>
      receiver().events.reduce<Record<string, number>>((n, e) => ({ ...n, [e.type]: (n[e.type] ?? 0) + 1 }), {});

    fake.server.setDefault(weatherAgentReply());
    await agent.invoke(ask("Paris"), { callbacks: [stock] });
    await stock.flushAsync();
    const stockCounts = count();
    const stockGenerations = receiver().generations();
    receiver().reset();

    const langfuse = handler();
    await agent.invoke(ask("Paris"), { callbacks: [langfuse] });
    await langfuse.flushAsync();
    expect(count()).toEqual({ ...stockCounts, "generation-update": (stockCounts["generation-update"] ?? 0) + 2 });
    expect(receiver().generations().map((g) => g.usageDetails)).toEqual(stockGenerations.map((g) => g.usageDetails));
    expect(stockGenerations.every((g) => g.costDetails === undefined)).toBe(true);
  });

  it("accepts the stock handler's options and drops ours before they reach the Langfuse client", () => {
    const langfuse = new CallbackHandler({ publicKey: "pk", secretKey: "sk", baseUrl: "http://127.0.0.1:9", prices: {} });
    expect(langfuse).toBeInstanceOf(StockHandler);
    expect(langfuse.name).toBe("CallbackHandler");
  });
});
