/**
 * `langchain-metered/langfuse` against the real v5 SDK: `@langfuse/langchain` on OpenTelemetry, exported by
 * `@langfuse/otel`'s LangfuseSpanProcessor as OTLP/JSON to a loopback receiver. What is asserted is what the
 * receiver got: one span per observation, costs in `langfuse.observation.cost_details`.
 */
import { HumanMessage } from "@langchain/core/messages";
import { ChatOpenAI } from "@langchain/openai";
import { CallbackHandler as StockHandler } from "@langfuse/langchain";
import { LangfuseSpanProcessor } from "@langfuse/otel";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { createAgent } from "langchain";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CallbackHandler } from "../../src/integrations/langfuse.js";
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

let processor: LangfuseSpanProcessor;
let provider: NodeTracerProvider;
beforeAll(() => {
  const { url, publicKey, secretKey } = receiver();
  processor = new LangfuseSpanProcessor({ publicKey, secretKey, baseUrl: url });
  provider = new NodeTracerProvider({ spanProcessors: [processor] });
  provider.register();
});
afterAll(() => provider.shutdown());

/** Sends the ended spans, as an app does before it exits. */
const flush = () => processor.forceFlush();

describe("langchain-metered/langfuse (v5 SDK, OpenTelemetry)", () => {
  it("invoke: the generation span carries the message's cost, keyed like its usage, with total", async () => {
    fake.server.script({ usage: { promptTokens: 1000, completionTokens: 200, cachedTokens: 200, reasoningTokens: 50 } });
    const message = await fake.model().invoke("Hello", { callbacks: [new CallbackHandler()] });
    await flush();

    const [generation, ...others] = receiver().generations();
    expect(others).toHaveLength(0);
    expectPricedLikeUsage(generation!);
    expect(generation!.costDetails?.total).toBe(costOf(message).totalUsd);
    // A bare call is its own run, with its own $2 budget: the trace shows the budget's view of it too.
    expect(generation!.metadata?.metered).toEqual({
      price: { source: "genai-prices", version: "0.1.8", model: "gpt-4o-mini", estimated: false },
      budget: { decision: "allowed", limitUsd: 2, spentUsd: 0.000255, remainingUsd: 1.999745 },
    });
    expect(receiver().unauthorized).toBe(0);
  });

  it("after a budget downgrade, the generation names the model that answered", async () => {
    fake.server.setDefault({ usage: { promptTokens: 1000, completionTokens: 100 } });
    const langfuse = new CallbackHandler();
    const budget = new BudgetCallbackHandler({ limitUsd: 0.01 });
    const model = fake.model({ model: "gpt-4o", budget: { limitUsd: 0.01, downgrade: { atFraction: 0.5, to: "gpt-4o-mini" } } });
    for (const input of ["1", "2", "3"]) await model.invoke(input, { callbacks: [budget, langfuse] });
    await flush();
    // $0.0035 twice takes the run past half of $0.01: the third call goes to gpt-4o-mini.
    const generations = receiver().generations();
    expect(generations.map((g) => g.model)).toEqual(["gpt-4o", "gpt-4o", "gpt-4o-mini"]);
    expect(generations.at(-1)?.metadata?.metered).toMatchObject({ price: { model: "gpt-4o-mini", downgradedFrom: "gpt-4o" } });
  });

  it("stream: the cost on the usage chunk reaches the generation", async () => {
    fake.server.script({ usage: { promptTokens: 300, completionTokens: 40 } });
    const { message } = await collect(await fake.model().stream("Hello", { callbacks: [new CallbackHandler()] }));
    await flush();

    const [generation] = receiver().generations();
    expectPricedLikeUsage(generation!);
    expect(generation!.costDetails?.total).toBe(costOf(message).totalUsd);
  });

  it("agent run with a tool: every generation carries its own message's cost and the run's budget", async () => {
    fake.server.setDefault(weatherAgentReply());
    const agent = createAgent({ model: fake.model(), tools: [getWeather] });
    const result = await agent.invoke(ask("Paris"), { callbacks: [new CallbackHandler()] });
    await flush();

    const costs = aiMessages(result.messages).map((m) => costOf(m).totalUsd);
    const generations = receiver().generations();
    expect(generations).toHaveLength(2);
    generations.forEach(expectPricedLikeUsage);
    expect(sorted(generations.map((g) => g.costDetails!.total!))).toEqual(sorted(costs));
    expect(new Set(generations.map((g) => g.traceId)).size).toBe(1);
    for (const generation of generations) {
      expect(generation.metadata?.metered).toMatchObject({ budget: { decision: "allowed", limitUsd: 2 } });
    }
  });

  it("a run stopped by its budget shows `exceeded`, and the crossing call's cost, on its last generation", async () => {
    fake.server.setDefault({ usage: { promptTokens: 1000, completionTokens: 500 }, toolCalls: [{ name: "get_weather", arguments: { city: "Paris" } }] });
    const agent = createAgent({ model: fake.model({ budget: { limitUsd: 0.001 } }), tools: [getWeather] });
    const error = await agent.invoke(ask("Paris"), { callbacks: [new CallbackHandler()] }).catch((e: unknown) => e);
    expect(BudgetExceededError.isInstance(error)).toBe(true);
    await flush();

    const generations = receiver().generations();
    expect(generations).toHaveLength(3);
    const last = generations.find((g) => g.level === "ERROR");
    expect(last?.metadata?.metered).toMatchObject({
      budget: { decision: "exceeded", limitUsd: 0.001, spentUsd: 0.00135, remainingUsd: 0 },
    });
    expect(last?.costDetails?.total).toBe(0.00045);
    expectPricedLikeUsage(last!);
  });

  it("concurrent runs through one handler keep each cost on its own generation and in its own trace", async () => {
    const langfuse = new CallbackHandler();
    fake.server.setDefault(weatherAgentReply({ chunkDelayMs: 15 }));
    const agent = createAgent({ model: fake.model(), tools: [getWeather] });
    const runs = await Promise.all(["Paris", "Lyon"].map((city) => agent.invoke(ask(city), { callbacks: [langfuse] })));
    await flush();

    const observations = receiver().observations();
    const generations = receiver().generations();
    expect(generations).toHaveLength(4);
    expect(observations.filter((o) => o.traceId !== rootOf(o, observations).traceId)).toEqual([]);
    const traces = new Map<string, number[]>();
    for (const generation of generations) {
      expectPricedLikeUsage(generation);
      traces.set(generation.traceId!, [...(traces.get(generation.traceId!) ?? []), generation.costDetails!.total!]);
    }
    expect(traces.size).toBe(2);
    const expected = runs.map((run) => sorted(aiMessages(run.messages).map((m) => costOf(m).totalUsd)));
    expect([...traces.values()].map(sorted).sort((a, b) => a[0]! - b[0]!)).toEqual(expected.sort((a, b) => a[0]! - b[0]!));
  });

  it("prices a plain chat model from its usage", async () => {
    fake.server.script({ usage: { promptTokens: 1000, completionTokens: 100, cachedTokens: 500 } });
    const model = new ChatOpenAI({ model: "gpt-4o-mini", ...fake.connection() });
    const message = await model.invoke([new HumanMessage("Hello")], { callbacks: [new CallbackHandler()] });
    await flush();

    const [generation] = receiver().generations();
    expectPricedLikeUsage(generation!);
    expect(generation!.costDetails?.total).toBe(priceUsage(message.usage_metadata!, "gpt-4o-mini").totalUsd);
  });

  it("a plain chat model under a BudgetCallbackHandler: the budget's own record and view reach the generation", async () => {
    fake.server.script({ usage: { promptTokens: 1000, completionTokens: 100 } });
    // The handler prices with its own `prices`: the generation shows that figure, not genai-prices'.
    const budget = new BudgetCallbackHandler({ limitUsd: 0.01, prices: { "gpt-4o-mini": { input: 1, output: 2 } } });
    const model = new ChatOpenAI({ model: "gpt-4o-mini", ...fake.connection() });
    await model.invoke([new HumanMessage("Hello")], { callbacks: [new CallbackHandler(), budget] });
    await flush();

    const [generation] = receiver().generations();
    // 1000 × $1/M + 100 × $2/M = $0.0012
    expect(budget.records[0]?.cost.nanoUsd).toBe(1_200_000);
    expect(generation!.costDetails?.total).toBe(0.0012);
    expect(generation!.metadata?.metered).toMatchObject({ budget: { decision: "allowed", limitUsd: 0.01, spentUsd: 0.0012, remainingUsd: 0.0088 } });
  });

  it("sends the stock handler's spans and attributes, plus cost and metadata on generations", async () => {
    fake.server.setDefault(weatherAgentReply());
    const agent = createAgent({ model: fake.model(), tools: [getWeather] });
    const shape = () =>
      receiver()
        .spans.map((s) => `${s.name}: ${Object.keys(s.attributes).filter((k) => !k.includes("cost_details") && !k.endsWith(".metered")).sort().join(",")}`)
        .sort();

    await agent.invoke(ask("Paris"), { callbacks: [new StockHandler()] });
    await flush();
    const stock = shape();
    expect(receiver().generations().every((g) => g.costDetails === undefined)).toBe(true);
    receiver().reset();

    await agent.invoke(ask("Paris"), { callbacks: [new CallbackHandler()] });
    await flush();
    expect(shape()).toEqual(stock);
    expect(receiver().generations().every((g) => g.costDetails !== undefined && g.metadata?.metered !== undefined)).toBe(true);
  });
});
