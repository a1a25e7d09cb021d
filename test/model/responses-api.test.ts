/**
 * The Responses API (`useResponsesApi: true`): invoke and stream, with cached and reasoning tokens.
 * o3-mini (genai-prices 0.1.8): in 1.1, cache 0.55, out 4.4 USD per 1M tokens; reasoning at the output rate.
 * 1000 in (100 cached) + 500 out (300 reasoning):
 *   900×1.1e-6 + 100×0.55e-6 + 200×4.4e-6 + 300×4.4e-6 = 0.00099 + 0.000055 + 0.00088 + 0.00132 = $0.003245
 */
import { describe, expect, it } from "vitest";
import { detailsInNano } from "../support/cost.js";
import { collect, costOf, recorder, useFakeOpenAI } from "../support/metered.js";

const fake = useFakeOpenAI();

const reasoningReply = {
  model: "o3-mini-2025-01-31",
  content: "Thought hard.",
  usage: { promptTokens: 1000, cachedTokens: 100, completionTokens: 500, reasoningTokens: 300 },
};
const expected = {
  nanoUsd: 3_245_000,
  details: { input: 990_000, input_cache_read: 55_000, output: 880_000, output_reasoning: 1_320_000 },
};

describe("Responses API", () => {
  it("invoke: reasoning tokens priced and reported apart", async () => {
    const { records, onCost } = recorder();
    fake.server.script(reasoningReply);
    const message = await fake.model({ model: "o3-mini", useResponsesApi: true, onCost }).invoke("think");
    expect(fake.server.requests[0]?.path).toBe("/v1/responses");
    const cost = costOf(message);
    expect(cost).toMatchObject({ nanoUsd: expected.nanoUsd, totalUsd: 0.003245, model: "o3-mini-2025-01-31", estimated: false });
    expect(detailsInNano(cost!)).toEqual(expected.details);
    expect(message.usage_metadata?.output_token_details?.reasoning).toBe(300);
    expect(records).toHaveLength(1);
    expect(records[0]?.usage).toMatchObject({ inputTokens: 1000, cacheReadTokens: 100, outputTokens: 500, reasoningTokens: 300 });
  });

  it("stream: the cost arrives once, with response.completed's usage", async () => {
    const { records, onCost } = recorder();
    fake.server.script({ ...reasoningReply, chunkSize: 3 });
    const { message, costChunks } = await collect(await fake.model({ model: "o3-mini", useResponsesApi: true, onCost }).stream("think"));
    expect(fake.server.requests[0]).toMatchObject({ api: "responses", stream: true });
    expect(message.text).toBe("Thought hard.");
    expect(costChunks).toBe(1);
    expect(costOf(message)?.nanoUsd).toBe(expected.nanoUsd);
    expect(detailsInNano(costOf(message)!)).toEqual(expected.details);
    expect(message.usage_metadata).toMatchObject({ input_tokens: 1000, output_tokens: 500 });
    expect(records).toHaveLength(1);
  });

  it("a function call on the Responses API is priced", async () => {
    fake.server.script({ toolCalls: [{ name: "get_weather", arguments: { city: "Oslo" } }], usage: { promptTokens: 100, completionTokens: 20 } });
    const model = fake.model({ useResponsesApi: true }).bindTools([
      { type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } },
    ]);
    const message = await model.invoke("weather?");
    expect(message.tool_calls?.[0]?.name).toBe("get_weather");
    // gpt-4o-mini: 100×0.15e-6 + 20×0.6e-6 = $0.000027
    expect(costOf(message)?.nanoUsd).toBe(27_000);
  });
});
