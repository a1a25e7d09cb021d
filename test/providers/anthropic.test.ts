/**
 * ChatAnthropic (@langchain/anthropic 1.5.11) against a loopback fake of the Messages API, JSON and SSE.
 *
 * Every figure is worked by hand from Anthropic's published claude-sonnet-4-5 prices, USD per 1M tokens:
 * input $3, 5-minute cache write $3.75, 1-hour cache write $6, cache read $0.30, output $15.
 *
 * The scripted call: 1000 uncached input, 2000 read from cache, 3000 written for 5 minutes, 4000 for an
 * hour, 500 output:
 *   input        1000 × 3     = $0.003
 *   cache read   2000 × 0.30  = $0.0006
 *   cache write  3000 × 3.75  = $0.01125  + 4000 × 6 = $0.024  → $0.03525
 *   output        500 × 15    = $0.0075
 *   total                       $0.04635
 */
import { AIMessageChunk } from "@langchain/core/messages";
import { tool } from "@langchain/core/tools";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { BudgetCallbackHandler, BudgetExceededError, type Cost, meter, MeteredModel } from "../../src/index.js";
import { detailsInNano } from "../support/cost.js";
import { costOf, recorder } from "../support/metered.js";
import { anthropicModel, useFakeAnthropic } from "../support/providers.js";

const server = useFakeAnthropic();

const CACHED_CALL = { input: 1000, output: 500, cacheRead: 2000, cacheWrite5m: 3000, cacheWrite1h: 4000 };
const CACHED_CALL_NANO = 46_350_000;
const CACHED_CALL_DETAILS = { input: 3_000_000, input_cache_read: 600_000, input_cache_write: 35_250_000, output: 7_500_000 };

const getWeather = tool(async ({ city }: { city: string }) => `Sunny in ${city}`, {
  name: "get_weather",
  description: "Weather for a city",
  schema: z.object({ city: z.string() }),
});

const metered = (fields = {}, options = {}) => meter(anthropicModel(server(), fields), { budget: false, ...options });

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

describe("ChatAnthropic, metered with meter()", () => {
  it("invoke: cache reads, 5-minute and 1-hour cache writes, each at its price", async () => {
    server().script({ usage: CACHED_CALL });
    const message = await metered().invoke("hi");
    const cost = costOf(message);
    expect(cost).toMatchObject({ nanoUsd: CACHED_CALL_NANO, totalUsd: 0.04635, model: "claude-sonnet-4-5-20250929", provider: "anthropic", estimated: false });
    expect(detailsInNano(cost as Cost)).toEqual(CACHED_CALL_DETAILS);
    // LangChain adds cache reads and writes back into input_tokens; the raw API's input_tokens excluded them.
    expect(message.usage_metadata).toMatchObject({ input_tokens: 10_000, output_tokens: 500, input_token_details: { cache_read: 2000, cache_creation: 7000 } });
  });

  it("stream (SSE): the same cost, once, on the last usage chunk; output is counted once", async () => {
    server().script({ usage: CACHED_CALL });
    const { message, costChunks } = await collect(await metered().stream("hi"));
    expect(server().requests[0]?.stream).toBe(true);
    expect(costChunks).toBe(1);
    expect(costOf(message)?.nanoUsd).toBe(CACHED_CALL_NANO);
    expect(detailsInNano(costOf(message) as Cost)).toEqual(CACHED_CALL_DETAILS);
    // LangChain's own aggregate adds message_start's output_tokens (1) to message_delta's cumulative 500.
    expect(message.usage_metadata?.output_tokens).toBe(501);
  });

  it("streamEvents(): the assembled message has the same cost", async () => {
    server().script({ usage: CACHED_CALL });
    const message = await metered().streamEvents("hi");
    expect(costOf(message)?.nanoUsd).toBe(CACHED_CALL_NANO);
  });

  it("streamEvents v2: the on_chat_model_end output has the same cost", async () => {
    server().script({ usage: CACHED_CALL });
    let cost: Cost | undefined;
    for await (const event of metered().streamEvents("hi", { version: "v2" })) {
      if (event.event === "on_chat_model_end") cost = costOf(event.data.output);
    }
    expect(cost?.nanoUsd).toBe(CACHED_CALL_NANO);
  });

  it("streaming: true invoke: streamed, and priced from the stream's own tally", async () => {
    server().script({ usage: CACHED_CALL });
    const message = await metered({ streaming: true }).invoke("hi");
    expect(server().requests[0]?.stream).toBe(true);
    expect(message.text).toBe("Hello from the fake Anthropic.");
    expect(costOf(message)?.nanoUsd).toBe(CACHED_CALL_NANO);
  });

  it("onCost gets one record with the normalized usage", async () => {
    const { records, onCost } = recorder();
    server().script({ usage: CACHED_CALL });
    await metered({}, { onCost }).invoke("hi");
    expect(records).toHaveLength(1);
    expect(records[0]?.usage).toEqual({
      inputTokens: 10_000,
      cacheReadTokens: 2000,
      cacheWriteTokens: 7000,
      cacheWrite1hTokens: 4000,
      inputAudioTokens: 0,
      outputTokens: 500,
      reasoningTokens: 0,
      outputAudioTokens: 0,
    });
  });

  it("a cost the endpoint states on message_delta is kept beside ours", async () => {
    server().script({ usage: { input: 1000, output: 100 }, cost: 0.0049 });
    const { message } = await collect(await metered().stream("hi"));
    // ours: 1000 × 3 + 100 × 15 = $0.003 + $0.0015 = $0.0045
    expect(costOf(message)).toMatchObject({ totalUsd: 0.0045, ourUsd: 0.0045, reportedUsd: 0.0049, counted: "ours" });
  });

  it("a response without usage is estimated", async () => {
    server().script({ usage: null });
    const message = await metered().invoke("hi");
    expect(costOf(message)?.estimated).toBe(true);
    expect(costOf(message)?.nanoUsd).toBeGreaterThan(0);
  });
});

describe("composition", () => {
  it("bindTools stays a metered chat model, sends Anthropic tools, and prices tool calls", async () => {
    server().script({ toolCalls: [{ name: "get_weather", input: { city: "Paris" } }], usage: { input: 100, output: 20 } });
    const bound = metered().bindTools([getWeather]);
    expect(bound).toBeInstanceOf(MeteredModel);
    const message = await bound.invoke("weather?");
    expect(server().requests[0]?.body.tools?.[0]).toMatchObject({ name: "get_weather", input_schema: { type: "object" } });
    expect(message.tool_calls?.[0]).toMatchObject({ name: "get_weather", args: { city: "Paris" } });
    // 100 × 3 + 20 × 15 = $0.0003 + $0.0003 = $0.0006
    expect(costOf(message)?.nanoUsd).toBe(600_000);
  });

  it("withStructuredOutput (Anthropic's function calling): the raw message is priced", async () => {
    server().script({ toolCalls: [{ name: "extract", input: { name: "Ann" } }], usage: { input: 100, output: 20 } });
    const structured = metered().withStructuredOutput(z.object({ name: z.string() }), { name: "extract", includeRaw: true });
    const result = await structured.invoke("who?");
    expect(result.parsed).toEqual({ name: "Ann" });
    expect(server().requests[0]?.body.tool_choice).toEqual({ type: "tool", name: "extract" });
    expect(costOf(result.raw as AIMessageChunk)?.nanoUsd).toBe(600_000);
  });

  it("withConfig stays metered and keeps the bound options", async () => {
    server().script({ usage: { input: 100, output: 20 } });
    const configured = metered().withConfig({ stop: ["END"] });
    expect(configured).toBeInstanceOf(MeteredModel);
    expect(costOf(await configured.invoke("hi"))?.nanoUsd).toBe(600_000);
    expect(server().requests[0]?.body.stop_sequences).toEqual(["END"]);
  });
});

describe("budgets", () => {
  it("the per-run default budget stops a run over its limit", async () => {
    server().setDefault({ usage: CACHED_CALL });
    const model = metered({}, { budget: { limitUsd: 0.05 } });
    await model.invoke("1"); // $0.04635
    await expect(model.invoke("2")).resolves.toBeDefined(); // a new run, a new budget
    const budget = new BudgetCallbackHandler({ limitUsd: 0.05 });
    await model.invoke("3", { callbacks: [budget] });
    const error = await model.invoke("4", { callbacks: [budget] }).catch((e: unknown) => e);
    expect(BudgetExceededError.isInstance(error)).toBe(true);
    expect(budget.spentUsd).toBe(0.0927);
    expect(budget.records.map((r) => r.cost.nanoUsd)).toEqual([CACHED_CALL_NANO, CACHED_CALL_NANO]); // each call counted once
  });

  it("a plain ChatAnthropic is priced by the budget's callbacks, 1-hour writes included", async () => {
    server().script({ usage: CACHED_CALL });
    const budget = new BudgetCallbackHandler({ limitUsd: 1 });
    await anthropicModel(server()).invoke("hi", { callbacks: [budget] });
    expect(budget.records.map((r) => r.cost.nanoUsd)).toEqual([CACHED_CALL_NANO]);
  });
});
