/**
 * ChatGoogleGenerativeAI (@langchain/google-genai 2.3.2) against a loopback fake of the Gemini API,
 * generateContent and streamGenerateContent?alt=sse.
 *
 * Prices, USD per 1M tokens (genai-prices 0.1.8, as Google publishes them):
 *   gemini-2.5-pro    input 1.25 (2.50 above 200k input), cache read 0.125 (0.25), output 10 (15)
 *   gemini-2.5-flash  input 0.30, cache read 0.03, output 2.50
 * Gemini bills thinking as output. LangChain's usage_metadata leaves it out of output_tokens (only
 * candidatesTokenCount) but keeps it in total_tokens: the gap is recovered and priced as reasoning.
 */
import type { AIMessageChunk } from "@langchain/core/messages";
import { tool } from "@langchain/core/tools";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { BudgetCallbackHandler, type Cost, meter, MeteredModel } from "../../src/index.js";
import { detailsInNano } from "../support/cost.js";
import { costOf, recorder } from "../support/metered.js";
import { geminiModel, useFakeGemini } from "../support/providers.js";

const server = useFakeGemini();
const metered = (fields = {}, options = {}) => meter(geminiModel(server(), fields), { budget: false, ...options });

/**
 * gemini-2.5-pro: prompt 1000 (400 of it cached), 200 candidates, 300 thoughts:
 *   input 600 × 1.25 = $0.00075; cache read 400 × 0.125 = $0.00005; output 200 × 10 = $0.002;
 *   reasoning 300 × 10 = $0.003; total $0.0058
 */
const THINKING_CALL = { prompt: 1000, cached: 400, candidates: 200, thoughts: 300 };
const THINKING_NANO = 5_800_000;
const THINKING_DETAILS = { input: 750_000, input_cache_read: 50_000, output: 2_000_000, output_reasoning: 3_000_000 };

async function collect(stream: AsyncIterable<AIMessageChunk>) {
  let message: AIMessageChunk | undefined;
  let costChunks = 0;
  for await (const chunk of stream) {
    message = message ? message.concat(chunk) : chunk;
    if (costOf(chunk)) costChunks++;
  }
  if (!message) throw new Error("empty stream");
  return { message, costChunks };
}

describe("ChatGoogleGenerativeAI, metered with meter()", () => {
  it("invoke: thinking tokens are priced as output, cache reads at their price", async () => {
    server().script({ usage: THINKING_CALL });
    const message = await metered().invoke("hi");
    expect(server().requests[0]?.path).toBe("/v1beta/models/gemini-2.5-pro:generateContent");
    expect(message.usage_metadata).toMatchObject({ input_tokens: 1000, output_tokens: 200, total_tokens: 1500 }); // thoughts only in the total
    const cost = costOf(message) as Cost;
    // Gemini's responses name no model: model and provider come from the model's ls_model_name / ls_provider.
    expect(cost).toMatchObject({ nanoUsd: THINKING_NANO, model: "gemini-2.5-pro", provider: "google", estimated: false });
    expect(detailsInNano(cost)).toEqual(THINKING_DETAILS);
  });

  it("stream (SSE): the same cost once, though LangChain's aggregate repeats cache_read per chunk", async () => {
    server().script({ usage: THINKING_CALL, chunkSize: 8 });
    const { message, costChunks } = await collect(await metered().stream("hi"));
    expect(server().requests[0]?.path).toBe("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse");
    expect(costChunks).toBe(1);
    expect(costOf(message)?.nanoUsd).toBe(THINKING_NANO);
    expect(detailsInNano(costOf(message) as Cost)).toEqual(THINKING_DETAILS);
    expect(message.usage_metadata?.input_token_details?.cache_read).toBeGreaterThan(400); // 400 × number of chunks
  });

  it("streaming: true invoke: the same cost (LangChain's own concatenation would count cache reads per chunk)", async () => {
    server().script({ usage: THINKING_CALL, chunkSize: 8 });
    const message = await metered({ streaming: true }).invoke("hi");
    expect(server().requests[0]?.stream).toBe(true);
    expect(message.text).toBe("Hello from the fake Gemini.");
    expect(costOf(message)?.nanoUsd).toBe(THINKING_NANO);
  });

  it("streamEvents(): the same cost", async () => {
    server().script({ usage: THINKING_CALL });
    expect(costOf(await metered().streamEvents("hi"))?.nanoUsd).toBe(THINKING_NANO);
  });

  it("above 200k input tokens the long-context tier prices the whole call", async () => {
    // prompt 250,000 (50,000 cached), 1000 candidates, 1000 thoughts, all at the upper tier:
    // 200,000 × 2.5 = $0.5; 50,000 × 0.25 = $0.0125; 1000 × 15 = $0.015; 1000 × 15 = $0.015 → $0.5425
    server().script({ usage: { prompt: 250_000, cached: 50_000, candidates: 1000, thoughts: 1000 } });
    const cost = costOf(await metered().invoke("hi")) as Cost;
    expect(cost.nanoUsd).toBe(542_500_000);
    expect(detailsInNano(cost)).toEqual({ input: 500_000_000, input_cache_read: 12_500_000, output: 15_000_000, output_reasoning: 15_000_000 });
  });

  it("at exactly 200k input tokens the base prices still apply", async () => {
    // 200,000 × 1.25 = $0.25; 100 × 10 = $0.001 → $0.251
    server().script({ usage: { prompt: 200_000, candidates: 100 } });
    expect(costOf(await metered().invoke("hi"))?.nanoUsd).toBe(251_000_000);
  });

  it("gemini-2.5-flash: thinking at the flash output price", async () => {
    // prompt 10,000 (2000 cached), 500 candidates, 1500 thoughts:
    // 8000 × 0.3 = $0.0024; 2000 × 0.03 = $0.00006; 500 × 2.5 = $0.00125; 1500 × 2.5 = $0.00375 → $0.00746
    server().script({ usage: { prompt: 10_000, cached: 2000, candidates: 500, thoughts: 1500 } });
    const cost = costOf(await metered({ model: "gemini-2.5-flash" }).invoke("hi")) as Cost;
    expect(cost).toMatchObject({ nanoUsd: 7_460_000, model: "gemini-2.5-flash" });
    expect(detailsInNano(cost)).toEqual({ input: 2_400_000, input_cache_read: 60_000, output: 1_250_000, output_reasoning: 3_750_000 });
  });

  it("tool-use prompt tokens are priced as input, as Google bills them (read from the SDK's raw usageMetadata)", async () => {
    // gemini-2.5-flash, prompt 1000, 100 candidates, 200 toolUsePrompt: (1000 + 200) × 0.3 = $0.00036;
    // 100 × 2.5 = $0.00025 → $0.00061. LangChain's usage_metadata leaves them in the total only.
    server().script({ usage: { prompt: 1000, candidates: 100, toolUsePrompt: 200 } });
    const { records, onCost } = recorder();
    const message = await metered({ model: "gemini-2.5-flash" }, { onCost }).invoke("hi");
    expect(costOf(message)?.nanoUsd).toBe(610_000);
    expect(records[0]?.usage).toMatchObject({ inputTokens: 1200, outputTokens: 100, reasoningTokens: 0 });
    expect(message.usage_metadata).toMatchObject({ input_tokens: 1000, output_tokens: 100, total_tokens: 1300 }); // LangChain's, untouched
  });

  it("streamed, the same: the last raw usageMetadata is the call's", async () => {
    server().script({ usage: { prompt: 1000, candidates: 100, toolUsePrompt: 200 } });
    const { message } = await collect(await metered({ model: "gemini-2.5-flash" }).stream("hi"));
    expect(costOf(message)?.nanoUsd).toBe(610_000);
  });

  it("onCost's record has thoughts as reasoning output", async () => {
    const { records, onCost } = recorder();
    server().script({ usage: THINKING_CALL });
    await metered({}, { onCost }).invoke("hi");
    expect(records[0]?.usage).toMatchObject({ inputTokens: 1000, cacheReadTokens: 400, outputTokens: 500, reasoningTokens: 300 });
    expect(records[0]).toMatchObject({ model: "gemini-2.5-pro", provider: "google" });
  });
});

describe("composition", () => {
  const getWeather = tool(async ({ city }: { city: string }) => `Sunny in ${city}`, {
    name: "get_weather",
    description: "Weather for a city",
    schema: z.object({ city: z.string() }),
  });

  it("bindTools stays metered and sends Gemini function declarations", async () => {
    server().script({ functionCalls: [{ name: "get_weather", args: { city: "Paris" } }], usage: { prompt: 100, candidates: 20 } });
    const bound = metered().bindTools([getWeather]);
    expect(bound).toBeInstanceOf(MeteredModel);
    const message = await bound.invoke("weather?");
    expect(server().requests[0]?.body.tools?.[0]?.functionDeclarations?.[0]?.name).toBe("get_weather");
    expect(message.tool_calls?.[0]).toMatchObject({ name: "get_weather", args: { city: "Paris" } });
    // 100 × 1.25 + 20 × 10 = $0.000125 + $0.0002 = $0.000325
    expect(costOf(message)?.nanoUsd).toBe(325_000);
  });

  it("withStructuredOutput (Gemini's JSON schema): the raw message is priced", async () => {
    server().script({ content: '{"name":"Ann"}', usage: { prompt: 100, candidates: 20 } });
    const result = await metered().withStructuredOutput(z.object({ name: z.string() }), { includeRaw: true }).invoke("who?");
    expect(result.parsed).toEqual({ name: "Ann" });
    expect(server().requests[0]?.body.generationConfig?.responseMimeType).toBe("application/json");
    expect(costOf(result.raw as AIMessageChunk)?.nanoUsd).toBe(325_000);
  });
});

describe("budgets", () => {
  it("a plain ChatGoogleGenerativeAI is priced by the budget's callbacks, thoughts included", async () => {
    server().script({ usage: THINKING_CALL });
    const budget = new BudgetCallbackHandler({ limitUsd: 1 });
    await geminiModel(server()).invoke("hi", { callbacks: [budget] });
    expect(budget.records.map((r) => [r.model, r.cost.nanoUsd])).toEqual([["gemini-2.5-pro", THINKING_NANO]]);
  });

  it("a metered model is counted once by an explicit budget", async () => {
    server().setDefault({ usage: THINKING_CALL });
    const budget = new BudgetCallbackHandler({ limitUsd: 1 });
    const model = metered({}, { budget: { limitUsd: 1 } });
    await model.invoke("1", { callbacks: [budget] });
    await model.invoke("2", { callbacks: [budget] });
    expect(budget.spentUsd).toBe(0.0116);
    expect(budget.records).toHaveLength(2);
  });
});
