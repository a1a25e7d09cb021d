/**
 * Langfuse key alignment: costs go under the usage keys Langfuse's LangChain handlers derive from
 * `usage_metadata` (only the cache write is named differently on the two sides).
 */
import { AIMessage } from "@langchain/core/messages";
import type { LLMResult } from "@langchain/core/outputs";
import { describe, expect, it } from "vitest";
import { costDetailsFor, usageDetailsFor, usageKeysOf } from "../../src/integrations/langfuse/cost-details.js";
import { type Cost, priceUsage } from "../../src/index.js";
import { ZERO_USAGE } from "../../src/usage/usage.js";

const output = (message: AIMessage, llmOutput?: LLMResult["llmOutput"]): LLMResult => ({
  generations: [[{ text: "", message } as never]],
  llmOutput,
});

const cost = (details: Cost["details"], totalUsd: number): Cost => ({
  totalUsd,
  nanoUsd: Math.round(totalUsd * 1e9),
  details,
  model: "m",
  provider: "openai",
  priceSource: "override",
  estimated: false,
});

describe("usageKeysOf", () => {
  it.each([
    {
      what: "OpenAI usage with details, zeros included",
      out: output(new AIMessage({ content: "", usage_metadata: { input_tokens: 10, output_tokens: 5, total_tokens: 15, input_token_details: { cache_read: 0, audio: 0 }, output_token_details: { reasoning: 2 } } })),
      keys: ["input", "output", "total", "input_cache_read", "input_audio", "output_reasoning"],
    },
    {
      what: "Anthropic cache writes",
      out: output(new AIMessage({ content: "", usage_metadata: { input_tokens: 10, output_tokens: 5, total_tokens: 15, input_token_details: { cache_creation: 4, cache_read: 3 } } })),
      keys: ["input", "output", "total", "input_cache_creation", "input_cache_read"],
    },
    {
      what: "no usage_metadata: llmOutput.tokenUsage, as the handlers fall back to",
      out: output(new AIMessage(""), { tokenUsage: { promptTokens: 3, completionTokens: 4, totalTokens: 7 } }),
      keys: ["input", "output", "total"],
    },
    { what: "no usage at all", out: output(new AIMessage("")), keys: [] },
  ])("$what", ({ out, keys }) => {
    expect(usageKeysOf(out)).toEqual(keys);
  });
});

describe("costDetailsFor", () => {
  it("puts each cost under its usage key, zero for kinds that cost nothing, and adds total", () => {
    const details = costDetailsFor(
      cost({ input: 0.000001, input_cache_write: 0.000002, output: 0.000003 }, 0.000006),
      ["input", "output", "total", "input_cache_creation", "input_cache_read"],
    );
    expect(details).toEqual({ input: 0.000001, output: 0.000003, input_cache_creation: 0.000002, input_cache_read: 0, total: 0.000006 });
  });

  it("never drops money to make keys line up: a kind with no usage key keeps its own name", () => {
    expect(costDetailsFor(cost({ input: 0.5, output_audio: 0.25 }, 0.75), ["input", "total"])).toEqual({
      input: 0.5,
      output_audio: 0.25,
      total: 0.75,
    });
  });

  it("agrees with priceUsage to the nano-dollar for a real usage", () => {
    const usage = { input_tokens: 1000, output_tokens: 300, total_tokens: 1300, input_token_details: { cache_read: 200 }, output_token_details: { reasoning: 100 } };
    const priced = priceUsage(usage, "gpt-4o-mini");
    const details = costDetailsFor(priced, usageKeysOf(output(new AIMessage({ content: "", usage_metadata: usage }))));
    const { total, ...parts } = details;
    expect(total).toBe(priced.totalUsd);
    expect(Object.values(parts).reduce((sum, usd) => sum + Math.round(usd * 1e9), 0)).toBe(priced.nanoUsd);
  });
});

describe("usageDetailsFor", () => {
  it("nets input and output of the kinds named apart, like the handlers do", () => {
    const usage = { ...ZERO_USAGE, inputTokens: 100, cacheReadTokens: 30, cacheWriteTokens: 10, outputTokens: 50, reasoningTokens: 20 };
    expect(usageDetailsFor(usage)).toEqual({ input: 60, output: 30, total: 150, input_cache_read: 30, input_cache_creation: 10, output_reasoning: 20 });
  });
});
