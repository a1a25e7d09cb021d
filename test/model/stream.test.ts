/**
 * Streaming on Chat Completions: the usage chunk carries the cost, so the concatenated message has it
 * exactly once; `streaming: true` + invoke works offline (local token counting) and is priced.
 */
import { describe, expect, it } from "vitest";
import { collect, costOf, recorder, useFakeOpenAI } from "../support/metered.js";

const fake = useFakeOpenAI();

describe("stream", () => {
  it("the concatenated message has the cost once, and the usage", async () => {
    const { records, onCost } = recorder();
    fake.server.script({
      model: "gpt-4o-mini-2024-07-18",
      content: "abcdefghij",
      chunkSize: 2,
      usage: { promptTokens: 1000, completionTokens: 500, cachedTokens: 200 },
    });
    const { message, chunks, costChunks } = await collect(await fake.model({ onCost }).stream("hi"));
    expect(chunks).toBeGreaterThan(3);
    expect(costChunks).toBe(1);
    expect(message.content).toBe("abcdefghij");
    // 800×0.15e-6 + 200×0.075e-6 + 500×0.6e-6 = $0.000435 (concatenating did not add costs up)
    expect(costOf(message)).toEqual({
      totalUsd: 0.000435,
      nanoUsd: 435_000,
      details: { input: 0.00012, input_cache_read: 0.000015, output: 0.0003 },
      model: "gpt-4o-mini-2024-07-18",
      provider: "openai",
      priceSource: "genai-prices@0.1.8",
      estimated: false,
    });
    expect(message.usage_metadata).toMatchObject({ input_tokens: 1000, output_tokens: 500, total_tokens: 1500 });
    expect(records).toHaveLength(1);
    expect(fake.server.requests[0]?.body.stream_options).toEqual({ include_usage: true });
  });

  it("a streamed tool call is priced too", async () => {
    fake.server.script({
      toolCalls: [{ name: "get_weather", arguments: { city: "Paris" }, id: "call_1" }],
      usage: { promptTokens: 100, completionTokens: 20 },
    });
    const { message, costChunks } = await collect(await fake.model().stream("weather?"));
    expect(message.tool_calls?.[0]?.args).toEqual({ city: "Paris" });
    // 100×0.15e-6 + 20×0.6e-6 = 0.000015 + 0.000012 = $0.000027
    expect(costOf(message)?.nanoUsd).toBe(27_000);
    expect(costChunks).toBe(1);
  });
});

describe("streaming: true + invoke", () => {
  it("completes offline and is priced from the streamed usage", async () => {
    const { records, onCost } = recorder();
    fake.server.script({ usage: { promptTokens: 1000, completionTokens: 500 } });
    const message = await fake.model({ streaming: true, onCost }).invoke("hi");
    expect(fake.server.requests[0]?.stream).toBe(true);
    expect(message.content).toBe("Hello from the fake server.");
    // 1000×0.15e-6 + 500×0.6e-6 = $0.00045
    expect(costOf(message)).toMatchObject({ nanoUsd: 450_000, estimated: false });
    expect(records.map((r) => r.cost.nanoUsd)).toEqual([450_000]);
  });

  it("counts tokens locally rather than downloading a tokenizer", async () => {
    // streaming invoke asks ChatOpenAI for its own prompt estimate (getNumTokens): it must be local and exact.
    // o200k_base: "hi" is 1 token; "Hello from the fake server." is 6.
    const model = fake.model({ streaming: true });
    expect(await model.getNumTokens("hi")).toBe(1);
    expect(await model.getNumTokens("Hello from the fake server.")).toBe(6);
    // the Chat Completions and Responses delegates count the same way (they are what streaming invoke calls)
    const delegates = model as unknown as Record<"completions" | "responses", { getNumTokens(text: string): Promise<number> }>;
    expect(await delegates.completions.getNumTokens("hi")).toBe(1);
    expect(await delegates.responses.getNumTokens("hi")).toBe(1);
  });
});
