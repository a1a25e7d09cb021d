/**
 * invoke, batch and n > 1 on Chat Completions: the cost lands on every AIMessage, priced as the model the
 * response names. Figures by hand (gpt-4o-mini: in 0.15, cache 0.075, out 0.6 USD per 1M tokens).
 */
import { HumanMessage } from "@langchain/core/messages";
import type { ChatGeneration } from "@langchain/core/outputs";
import { describe, expect, it } from "vitest";
import { GENAI_PRICES_VERSION } from "../../src/index.js";
import { detailsInNano } from "../support/cost.js";
import { costOf, recorder, useFakeOpenAI } from "../support/metered.js";

const fake = useFakeOpenAI();

describe("invoke", () => {
  it("puts the cost on the message, as the served dated model", async () => {
    fake.server.script({ model: "gpt-4o-mini-2024-07-18", usage: { promptTokens: 1000, completionTokens: 500, cachedTokens: 200 } });
    const message = await fake.model().invoke("hi");
    // 800×0.15e-6 + 200×0.075e-6 + 500×0.6e-6 = 0.00012 + 0.000015 + 0.0003 = $0.000435
    expect(costOf(message)).toEqual({
      totalUsd: 0.000435,
      nanoUsd: 435_000,
      details: { input: 0.00012, input_cache_read: 0.000015, output: 0.0003 },
      model: "gpt-4o-mini-2024-07-18",
      provider: "openai",
      priceSource: `genai-prices@${GENAI_PRICES_VERSION}`,
      estimated: false,
    });
    expect(message.usage_metadata).toMatchObject({ input_tokens: 1000, output_tokens: 500 });
    // ChatOpenAI's own metadata is kept beside the cost
    expect(message.response_metadata.model_name).toBe("gpt-4o-mini-2024-07-18");
    expect(message.response_metadata.finish_reason).toBe("stop");
  });

  it("prices the served model, not the configured one", async () => {
    // configured gpt-4o-mini, served gpt-4o: 1000×2.5e-6 + 500×10e-6 = $0.0075
    fake.server.script({ model: "gpt-4o-2024-08-06", usage: { promptTokens: 1000, completionTokens: 500 } });
    expect(costOf(await fake.model().invoke("hi"))).toMatchObject({ nanoUsd: 7_500_000, model: "gpt-4o-2024-08-06" });
  });

  it("prices the response's usage, not the request's", async () => {
    // the server's default usage: prompt = ceil(len(JSON messages)/4), completion = ceil(len(reply)/4)
    const message = await fake.model().invoke("hi");
    const prompt = Math.ceil(JSON.stringify(fake.server.requests[0]?.body.messages).length / 4);
    const completion = Math.ceil("Hello from the fake server.".length / 4); // 27 chars → 7 tokens
    expect(message.usage_metadata).toMatchObject({ input_tokens: prompt, output_tokens: completion });
    // prompt×150 nano + 7×600 nano
    expect(costOf(message)?.nanoUsd).toBe(prompt * 150 + 4200);
  });
});

describe("batch", () => {
  it("prices each call on its own", async () => {
    const { records, onCost } = recorder();
    fake.server.script(
      { usage: { promptTokens: 1000, completionTokens: 500 } },
      { usage: { promptTokens: 2000, completionTokens: 1000 } },
    );
    const [first, second] = await fake.model({ onCost }).batch(["a", "b"], { maxConcurrency: 1 });
    // 1000×0.15e-6 + 500×0.6e-6 = $0.00045; twice that = $0.0009
    expect(costOf(first)?.nanoUsd).toBe(450_000);
    expect(costOf(second)?.nanoUsd).toBe(900_000);
    expect(detailsInNano(costOf(second)!)).toEqual({ input: 300_000, output: 600_000 });
    expect(records.map((r) => r.cost.nanoUsd)).toEqual([450_000, 900_000]);
    expect(new Set(records.map((r) => r.callId)).size).toBe(2);
  });
});

describe("n > 1", () => {
  it("each generation carries the call's cost; the call is priced once", async () => {
    const { records, onCost } = recorder();
    fake.server.script({ usage: { promptTokens: 1000, completionTokens: 500 } });
    const result = await fake.model({ n: 2, onCost }).generate([[new HumanMessage("hi")]]);
    const generations = result.generations[0] ?? [];
    expect(generations).toHaveLength(2);
    // one usage covers both choices: 1000×0.15e-6 + 500×0.6e-6 = $0.00045, not twice that
    for (const generation of generations) {
      expect(costOf((generation as ChatGeneration).message)?.nanoUsd).toBe(450_000);
    }
    expect(records).toHaveLength(1);
    expect(records[0]?.cost.nanoUsd).toBe(450_000);
  });
});
