/**
 * The `prices` option: adding a model, replacing a known one, matching dated snapshots, tiers, and
 * sub-nano prices rounded once per call. Figures by hand (prices in USD per 1M tokens).
 */
import type { UsageMetadata } from "@langchain/core/messages";
import { describe, expect, it } from "vitest";
import { priceUsage, type PriceOverrides, UnknownModelPriceError } from "../../src/index.js";
import { detailsInNano } from "../support/cost.js";

const usage = (input: number, output: number, inputDetails: Record<string, number> = {}, outputDetails: Record<string, number> = {}) =>
  ({ input_tokens: input, output_tokens: output, input_token_details: inputDetails, output_token_details: outputDetails }) as Partial<UsageMetadata>;

const myModel: PriceOverrides = { "my-model": { input: 1, output: 2 } };

describe("prices: adding and replacing", () => {
  it("adds a model genai-prices does not know", () => {
    // 1000×1e-6 + 500×2e-6 = 0.001 + 0.001 = $0.002
    const cost = priceUsage(usage(1000, 500), "my-model", { prices: myModel });
    expect(cost).toMatchObject({ nanoUsd: 2_000_000, totalUsd: 0.002, model: "my-model", priceSource: "override" });
    expect(() => priceUsage(usage(1000, 500), "my-model")).toThrow(UnknownModelPriceError);
  });

  it("replaces a known model's price; a kind without its own price falls back to input", () => {
    // override gpt-4o-mini to in 0.3, out 1.2, no cacheRead: 800×0.3e-6 + 200×0.3e-6 + 500×1.2e-6
    // = 0.00024 + 0.00006 + 0.0006 = $0.0009 (genai-prices would say $0.000435)
    const cost = priceUsage(usage(1000, 500, { cache_read: 200 }), "gpt-4o-mini", {
      prices: { "gpt-4o-mini": { input: 0.3, output: 1.2 } },
    });
    expect(cost.nanoUsd).toBe(900_000);
    expect(detailsInNano(cost)).toEqual({ input: 240_000, input_cache_read: 60_000, output: 600_000 });
    expect(cost.priceSource).toBe("override");
  });

  it("prices every kind with its own override", () => {
    // in 1, out 2, cacheRead 0.1, cacheWrite 1.25, cacheWrite1h 2, inputAudio 10, outputAudio 20, outputReasoning 3.
    // 10000 in = 4000 plain + 1000 read + 2000 written (1500 5m, 500 1h) + 3000 audio; 1000 out = 500 plain + 200 reasoning + 300 audio:
    // 4000×1e-6 + 1000×0.1e-6 + (1500×1.25e-6 + 500×2e-6) + 3000×10e-6 + 500×2e-6 + 200×3e-6 + 300×20e-6
    // = 0.004 + 0.0001 + 0.002875 + 0.03 + 0.001 + 0.0006 + 0.006 = $0.044575
    const prices = {
      full: { input: 1, output: 2, cacheRead: 0.1, cacheWrite: 1.25, cacheWrite1h: 2, inputAudio: 10, outputAudio: 20, outputReasoning: 3 },
    };
    const metadata = usage(
      10_000,
      1000,
      { cache_read: 1000, ephemeral_5m_input_tokens: 1500, ephemeral_1h_input_tokens: 500, audio: 3000 },
      { reasoning: 200, audio: 300 },
    );
    const cost = priceUsage(metadata, "full", { prices });
    expect(cost.nanoUsd).toBe(44_575_000);
    expect(detailsInNano(cost)).toEqual({
      input: 4_000_000,
      input_cache_read: 100_000,
      input_cache_write: 2_875_000,
      input_audio: 30_000_000,
      output: 1_000_000,
      output_reasoning: 600_000,
      output_audio: 6_000_000,
    });
  });

  it("one-hour cache writes fall back to cacheWrite, not input", () => {
    // 1000 in, all written with a 1h TTL, no cacheWrite1h price: 1000×1.25e-6 = $0.00125
    const cost = priceUsage(usage(1000, 0, { ephemeral_1h_input_tokens: 1000 }), "cw", {
      prices: { cw: { input: 1, output: 2, cacheWrite: 1.25 } },
    });
    expect(cost.nanoUsd).toBe(1_250_000);
  });

  it("an override wins over genai-prices whatever the provider hint", () => {
    // 1000×0.3e-6 = $0.0003
    const cost = priceUsage(usage(1000, 0), "gemini-2.5-pro", { provider: "google_genai", prices: { "gemini-2.5-pro": { input: 0.3, output: 1 } } });
    expect(cost.nanoUsd).toBe(300_000);
  });
});

describe("prices: matching dated snapshots", () => {
  it.each([
    // my-model: 1000×1e-6 + 500×2e-6 = $0.002
    { model: "my-model-2025-01-01", nano: 2_000_000 },
    { model: "MY-MODEL", nano: 2_000_000 },
    { model: "My-Model-20250101", nano: 2_000_000 },
  ])("my-model prices $model", ({ model, nano }) => {
    const cost = priceUsage(usage(1000, 500), model, { prices: myModel });
    expect(cost.nanoUsd).toBe(nano);
    expect(cost.model).toBe(model);
  });

  it("the longest matching key wins", () => {
    // my-model-mini: 1000×0.1e-6 + 500×0.2e-6 = 0.0001 + 0.0001 = $0.0002
    const prices = { "my-model": { input: 1, output: 2 }, "my-model-mini": { input: 0.1, output: 0.2 } };
    expect(priceUsage(usage(1000, 500), "my-model-mini-2025-01-01", { prices }).nanoUsd).toBe(200_000);
    expect(priceUsage(usage(1000, 500), "my-model-2025-01-01", { prices }).nanoUsd).toBe(2_000_000);
  });

  it("an override of a known model covers its dated snapshots", () => {
    // 1000×0.3e-6 + 500×1.2e-6 = 0.0003 + 0.0006 = $0.0009
    const cost = priceUsage(usage(1000, 500), "gpt-4o-mini-2024-07-18", { prices: { "gpt-4o-mini": { input: 0.3, output: 1.2 } } });
    expect(cost.nanoUsd).toBe(900_000);
  });

  // Regression guard (was a bug in src/pricing/catalog.ts:57): any `${key}-` prefix matches, not only dated snapshots, so an override of
  // "gpt-4o" silently re-prices "gpt-4o-mini" (and gpt-4o-audio-preview, gpt-4o-realtime…) at the gpt-4o override.
  it("an override of gpt-4o leaves gpt-4o-mini at its own price", () => {
    // gpt-4o-mini from genai-prices: 1000×0.15e-6 + 500×0.6e-6 = $0.00045 (the override would give 1000×100e-6 + 500×100e-6 = $0.15)
    const cost = priceUsage(usage(1000, 500), "gpt-4o-mini", { prices: { "gpt-4o": { input: 100, output: 100 } } });
    expect(cost.nanoUsd).toBe(450_000);
    expect(cost.priceSource).toBe("genai-prices@0.1.8");
  });
});

describe("prices: tiers", () => {
  const big = { big: { input: { base: 1, tiers: [{ start: 1000, price: 2 }] }, output: { base: 4, tiers: [{ start: 1000, price: 8 }] } } };

  it.each([
    // at 1000 in, base: 1000×1e-6 + 10×4e-6 = 0.001 + 0.00004 = $0.00104
    { input: 1000, nano: 1_040_000 },
    // above 1000 in, the whole call (output too) is at the tier: 1001×2e-6 + 10×8e-6 = 0.002002 + 0.00008 = $0.002082
    { input: 1001, nano: 2_082_000 },
  ])("$input in + 10 out", ({ input, nano }) => {
    expect(priceUsage(usage(input, 10), "big", { prices: big }).nanoUsd).toBe(nano);
  });

  it.each([
    // tiers given out of order are sorted: 1500×2e-6 = $0.003; 2500×3e-6 = $0.0075
    { input: 1500, nano: 3_000_000 },
    { input: 2500, nano: 7_500_000 },
  ])("unsorted tiers, $input in", ({ input, nano }) => {
    const prices = { t: { input: { base: 1, tiers: [{ start: 2000, price: 3 }, { start: 1000, price: 2 }] }, output: 1 } };
    expect(priceUsage(usage(input, 0), "t", { prices }).nanoUsd).toBe(nano);
  });
});

describe("prices below a nano-dollar per token: rounded once per call", () => {
  it.each([
    // 0.0015 $/M = 1.5 nano-USD per token; 0.0025 $/M = 2.5 nano-USD per token.
    // 1 in + 1 out = 4.0 nano exactly; parts 1.5 and 2.5 floor to 1 + 2, the leftover nano goes to the
    // earlier of two equal remainders (input). Rounding each part alone would give 2 + 3 = 5.
    { name: "parts share the rounded total", input: 0.0015, output: 0.0025, in: 1, out: 1, nano: 4, details: { input: 2, output: 2 } },
    // 1.5 nano rounds half up to 2
    { name: "half rounds up", input: 0.0015, output: 0, in: 1, out: 0, nano: 2, details: { input: 2 } },
    // 1.4 nano rounds down to 1
    { name: "below half rounds down", input: 0.0014, output: 0, in: 1, out: 0, nano: 1, details: { input: 1 } },
    // 0.4 nano: a call can round to $0, and its detail is still listed
    { name: "a call can round to zero", input: 0.0004, output: 0, in: 1, out: 0, nano: 0, details: { input: 0 } },
    // 3 tokens × 0.4 nano = 1.2 nano, rounded once on the call → 1 (not 3 × 0)
    { name: "tokens add up before rounding", input: 0.0004, output: 0, in: 3, out: 0, nano: 1, details: { input: 1 } },
  ])("$name", ({ input, output, in: inTokens, out, nano, details }) => {
    const cost = priceUsage(usage(inTokens, out), "tiny", { prices: { tiny: { input, output } } });
    expect(cost.nanoUsd).toBe(nano);
    expect(cost.totalUsd).toBe(nano / 1e9);
    expect(detailsInNano(cost)).toEqual(details);
  });
});
