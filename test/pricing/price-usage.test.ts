/**
 * `priceUsage` for each usage kind, dated snapshot names and provider hints.
 * Every expected figure is worked out by hand from genai-prices 0.1.8's published price (USD per 1M tokens).
 */
import type { UsageMetadata } from "@langchain/core/messages";
import { describe, expect, it } from "vitest";
import { GENAI_PRICES_VERSION, priceUsage, type Usage } from "../../src/index.js";
import { detailsInNano, detailsSumNano } from "../support/cost.js";

type Case = { name: string; model: string; usage: Partial<UsageMetadata>; nano: number; details: Record<string, number> };

const usage = (
  input: number,
  output: number,
  inputDetails: Record<string, number> = {},
  outputDetails: Record<string, number> = {},
): Partial<UsageMetadata> =>
  ({
    input_tokens: input,
    output_tokens: output,
    total_tokens: input + output,
    input_token_details: inputDetails,
    output_token_details: outputDetails,
  }) as Partial<UsageMetadata>;

describe("priceUsage: each usage kind at its own rate", () => {
  const cases: Case[] = [
    {
      // gpt-4o-mini in 0.15, out 0.6: 1000×0.15e-6 + 500×0.6e-6 = 0.00015 + 0.0003 = $0.00045
      name: "plain input and output",
      model: "gpt-4o-mini",
      usage: usage(1000, 500),
      nano: 450_000,
      details: { input: 150_000, output: 300_000 },
    },
    {
      // gpt-4o-mini, 1000 in (200 cached) + 500 out: 800×0.15e-6 + 200×0.075e-6 + 500×0.6e-6
      // = 0.00012 + 0.000015 + 0.0003 = $0.000435
      name: "cache reads at the cache-read rate",
      model: "gpt-4o-mini",
      usage: usage(1000, 500, { cache_read: 200 }),
      nano: 435_000,
      details: { input: 120_000, input_cache_read: 15_000, output: 300_000 },
    },
    {
      // gpt-4o in 2.5, cache 1.25, out 10: 500×2.5e-6 + 1500×1.25e-6 + 100×10e-6 = 0.00125 + 0.001875 + 0.001 = $0.004125
      name: "gpt-4o cache reads",
      model: "gpt-4o",
      usage: usage(2000, 100, { cache_read: 1500 }),
      nano: 4_125_000,
      details: { input: 1_250_000, input_cache_read: 1_875_000, output: 1_000_000 },
    },
    {
      // o3-mini in 1.1, out 4.4 (reasoning has no own price: output rate):
      // 2000×1.1e-6 + 300×4.4e-6 + 700×4.4e-6 = 0.0022 + 0.00132 + 0.00308 = $0.0066
      name: "reasoning tokens at the output rate, reported apart",
      model: "o3-mini",
      usage: usage(2000, 1000, {}, { reasoning: 700 }),
      nano: 6_600_000,
      details: { input: 2_200_000, output: 1_320_000, output_reasoning: 3_080_000 },
    },
    {
      // gpt-4o-audio-preview in 2.5, out 10, audio in 40, out 80 (reviewed rates: genai-prices 0.1.8 lacks them):
      // 600×2.5e-6 + 400×40e-6 + 100×10e-6 + 200×80e-6 = 0.0015 + 0.016 + 0.001 + 0.016 = $0.0345
      name: "audio tokens at their own rates, reported apart",
      model: "gpt-4o-audio-preview",
      usage: usage(1000, 300, { audio: 400 }, { audio: 200 }),
      nano: 34_500_000,
      details: { input: 1_500_000, input_audio: 16_000_000, output: 1_000_000, output_audio: 16_000_000 },
    },
    {
      // claude-sonnet-4-5 in 3, cache_write 3.75, cache_write_1h 6, cache_read 0.3, out 15;
      // 10000 in = 3000 plain + 4000 read + 3000 written (2000 for 5m, 1000 for 1h), 500 out:
      // 3000×3e-6 + 4000×0.3e-6 + (2000×3.75e-6 + 1000×6e-6) + 500×15e-6
      // = 0.009 + 0.0012 + (0.0075 + 0.006) + 0.0075 = $0.0312
      name: "Anthropic 5-minute and 1-hour cache writes",
      model: "claude-sonnet-4-5",
      usage: usage(10_000, 500, {
        cache_read: 4000,
        cache_creation: 3000,
        ephemeral_5m_input_tokens: 2000,
        ephemeral_1h_input_tokens: 1000,
      }),
      nano: 31_200_000,
      details: { input: 9_000_000, input_cache_read: 1_200_000, input_cache_write: 13_500_000, output: 7_500_000 },
    },
    {
      // claude-sonnet-4-5, cache writes without a TTL split count as 5-minute writes:
      // 3000×3e-6 + 2000×3.75e-6 = 0.009 + 0.0075 = $0.0165
      name: "cache_creation without a TTL split",
      model: "claude-sonnet-4-5",
      usage: usage(5000, 0, { cache_creation: 2000 }),
      nano: 16_500_000,
      details: { input: 9_000_000, input_cache_write: 7_500_000 },
    },
    {
      // gpt-4o-mini has no cache-write price: writes fall back to the input rate 0.15:
      // 700×0.15e-6 + 300×0.15e-6 = 0.000105 + 0.000045 = $0.00015
      name: "cache writes without a cache-write price",
      model: "gpt-4o-mini",
      usage: usage(1000, 0, { cache_creation: 300 }),
      nano: 150_000,
      details: { input: 105_000, input_cache_write: 45_000 },
    },
    {
      // gpt-4o-mini, a single output token: 1×0.6e-6 = $0.0000006
      name: "one output token",
      model: "gpt-4o-mini",
      usage: usage(0, 1),
      nano: 600,
      details: { output: 600 },
    },
    { name: "no tokens at all", model: "gpt-4o-mini", usage: usage(0, 0), nano: 0, details: {} },
  ];

  it.each(cases)("$name ($model)", ({ model, usage, nano, details }) => {
    const cost = priceUsage(usage, model);
    expect(cost.nanoUsd).toBe(nano);
    expect(cost.totalUsd).toBe(nano / 1e9);
    expect(detailsInNano(cost)).toEqual(details);
    expect(detailsSumNano(cost)).toBe(cost.nanoUsd);
    expect(cost).toMatchObject({ model, priceSource: `genai-prices@${GENAI_PRICES_VERSION}`, estimated: false });
  });

  it("accepts a normalized Usage as well as usage_metadata", () => {
    const normalized: Usage = {
      inputTokens: 1000,
      cacheReadTokens: 200,
      cacheWriteTokens: 0,
      cacheWrite1hTokens: 0,
      inputAudioTokens: 0,
      outputTokens: 500,
      reasoningTokens: 0,
      outputAudioTokens: 0,
    };
    // Same as the gpt-4o-mini cached case: $0.000435
    expect(priceUsage(normalized, "gpt-4o-mini").nanoUsd).toBe(435_000);
  });

  it("marks the cost estimated only when asked", () => {
    expect(priceUsage(usage(1, 1), "gpt-4o-mini", { estimated: true }).estimated).toBe(true);
    expect(priceUsage(usage(1, 1), "gpt-4o-mini").estimated).toBe(false);
  });
});

describe("priceUsage: dated snapshots and spelling", () => {
  it.each([
    // gpt-4o-mini: 1000×0.15e-6 + 500×0.6e-6 = $0.00045
    { model: "gpt-4o-mini-2024-07-18", input: 1000, output: 500, nano: 450_000 },
    // case-insensitive, same price
    { model: "GPT-4o-mini", input: 1000, output: 500, nano: 450_000 },
    // gpt-4o: 1000×2.5e-6 + 500×10e-6 = 0.0025 + 0.005 = $0.0075
    { model: "gpt-4o-2024-08-06", input: 1000, output: 500, nano: 7_500_000 },
    // o3-mini: 1000×1.1e-6 + 1000×4.4e-6 = 0.0011 + 0.0044 = $0.0055
    { model: "o3-mini-2025-01-31", input: 1000, output: 1000, nano: 5_500_000 },
    // claude-sonnet-4-5: 1000×3e-6 + 100×15e-6 = 0.003 + 0.0015 = $0.0045
    { model: "claude-sonnet-4-5-20250929", input: 1000, output: 100, nano: 4_500_000 },
  ])("$model resolves to its family's price", ({ model, input, output, nano }) => {
    const cost = priceUsage(usage(input, output), model);
    expect(cost.nanoUsd).toBe(nano);
    expect(cost.model).toBe(model);
  });
});

describe("priceUsage: provider hints", () => {
  it('provider "google_genai" prices gemini-2.5-pro as Google does', () => {
    // gemini-2.5-pro in 1.25, out 10: 1000×1.25e-6 + 100×10e-6 = 0.00125 + 0.001 = $0.00225
    const cost = priceUsage(usage(1000, 100), "gemini-2.5-pro", { provider: "google_genai" });
    expect(cost.nanoUsd).toBe(2_250_000);
    expect(detailsInNano(cost)).toEqual({ input: 1_250_000, output: 1_000_000 });
  });

  it.each([
    // genai-prices 0.1.8: claude-opus-4-6 on Google (Vertex) is in 5, 10 above 200k input tokens;
    // on Anthropic it is a flat 5. 300000 in: 300000×10e-6 = $3 vs 300000×5e-6 = $1.5
    { provider: "google_vertexai", nano: 3_000_000_000 },
    { provider: "google_genai", nano: 3_000_000_000 },
    { provider: "anthropic", nano: 1_500_000_000 },
    { provider: undefined, nano: 1_500_000_000 },
  ])("the same model name takes provider $provider's price", ({ provider, nano }) => {
    const cost = priceUsage(usage(300_000, 0), "claude-opus-4-6", provider ? { provider } : {});
    expect(cost.nanoUsd).toBe(nano);
  });
});
