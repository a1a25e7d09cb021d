/**
 * `normalizeUsage`: LangChain's `usage_metadata` (any provider) to one `Usage` of non-negative integers.
 */
import type { UsageMetadata } from "@langchain/core/messages";
import { describe, expect, it } from "vitest";
import { normalizeUsage, type Usage } from "../../src/index.js";

const ZERO: Usage = {
  inputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  cacheWrite1hTokens: 0,
  inputAudioTokens: 0,
  outputTokens: 0,
  reasoningTokens: 0,
  outputAudioTokens: 0,
};

const loose = (value: unknown) => value as Partial<UsageMetadata>;

describe("normalizeUsage", () => {
  it.each<[string, Partial<UsageMetadata> | undefined | null, Partial<Usage>]>([
    ["undefined", undefined, {}],
    ["null", null, {}],
    ["an empty object", {}, {}],
    ["only totals: undefined details are 0", { input_tokens: 100, output_tokens: 50, total_tokens: 150 }, { inputTokens: 100, outputTokens: 50 }],
    [
      "details present but undefined",
      { input_tokens: 100, output_tokens: 50, input_token_details: { cache_read: undefined }, output_token_details: { reasoning: undefined } },
      { inputTokens: 100, outputTokens: 50 },
    ],
    [
      "OpenAI cache reads, audio and reasoning",
      {
        input_tokens: 1000,
        output_tokens: 500,
        input_token_details: { cache_read: 200, audio: 10 },
        output_token_details: { reasoning: 300, audio: 20 },
      },
      { inputTokens: 1000, cacheReadTokens: 200, inputAudioTokens: 10, outputTokens: 500, reasoningTokens: 300, outputAudioTokens: 20 },
    ],
    ["cache_creation is a cache write", { input_tokens: 1000, input_token_details: { cache_creation: 300 } }, { inputTokens: 1000, cacheWriteTokens: 300 }],
    [
      "Anthropic 5m + 1h with cache_creation",
      loose({
        input_tokens: 5000,
        input_token_details: { cache_creation: 3000, ephemeral_5m_input_tokens: 2000, ephemeral_1h_input_tokens: 1000 },
      }),
      { inputTokens: 5000, cacheWriteTokens: 3000, cacheWrite1hTokens: 1000 },
    ],
    [
      "Anthropic 5m + 1h without cache_creation: writes are their sum",
      loose({ input_tokens: 5000, input_token_details: { ephemeral_5m_input_tokens: 2000, ephemeral_1h_input_tokens: 1000 } }),
      { inputTokens: 5000, cacheWriteTokens: 3000, cacheWrite1hTokens: 1000 },
    ],
    [
      "Anthropic 1h only",
      loose({ input_tokens: 5000, input_token_details: { ephemeral_1h_input_tokens: 500 } }),
      { inputTokens: 5000, cacheWriteTokens: 500, cacheWrite1hTokens: 500 },
    ],
    [
      "cache_creation above the TTL split is kept",
      loose({ input_tokens: 9000, input_token_details: { cache_creation: 5000, ephemeral_5m_input_tokens: 2000, ephemeral_1h_input_tokens: 1000 } }),
      { inputTokens: 9000, cacheWriteTokens: 5000, cacheWrite1hTokens: 1000 },
    ],
    ["NaN is 0", { input_tokens: Number.NaN, output_tokens: 5 }, { outputTokens: 5 }],
    ["negative is 0", { input_tokens: -10, output_tokens: 5, input_token_details: { cache_read: -3 } }, { outputTokens: 5 }],
    ["Infinity is 0", { input_tokens: Number.POSITIVE_INFINITY, output_tokens: 5 }, { outputTokens: 5 }],
    ["a numeric string is 0", loose({ input_tokens: "100", output_tokens: 5 }), { outputTokens: 5 }],
    [
      "negative or NaN Anthropic details are 0",
      loose({ input_tokens: 100, input_token_details: { ephemeral_5m_input_tokens: -5, ephemeral_1h_input_tokens: Number.NaN } }),
      { inputTokens: 100 },
    ],
    ["fractions round to whole tokens", { input_tokens: 10.6, output_tokens: 2.4 }, { inputTokens: 11, outputTokens: 2 }],
  ])("%s", (_name, metadata, expected) => {
    expect(normalizeUsage(metadata)).toEqual({ ...ZERO, ...expected });
  });

  it("always returns non-negative integers for every field", () => {
    const weird = loose({
      input_tokens: -1,
      output_tokens: Number.NaN,
      input_token_details: { cache_read: 1.5, audio: "x", cache_creation: null },
      output_token_details: { reasoning: {}, audio: Number.NEGATIVE_INFINITY },
    });
    for (const value of Object.values(normalizeUsage(weird))) {
      expect(Number.isInteger(value)).toBe(true);
      expect(value).toBeGreaterThanOrEqual(0);
    }
  });
});
