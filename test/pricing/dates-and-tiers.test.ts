/**
 * Prices that depend on when the call was made (o3's 2025-06-10 price cut) and on how large it is
 * (long-context tiers, applied to the whole call). Figures by hand from genai-prices 0.1.8.
 */
import type { UsageMetadata } from "@langchain/core/messages";
import { describe, expect, it } from "vitest";
import { priceUsage } from "../../src/index.js";
import { detailsInNano, detailsSumNano } from "../support/cost.js";

const usage = (input: number, output: number, cacheRead = 0, cacheWrite = 0): Partial<UsageMetadata> => ({
  input_tokens: input,
  output_tokens: output,
  total_tokens: input + output,
  input_token_details: { cache_read: cacheRead, cache_creation: cacheWrite },
});

describe("date-dependent prices (o3)", () => {
  it.each([
    // before 2025-06-10: in 10, out 40 → 1000×10e-6 + 1000×40e-6 = 0.01 + 0.04 = $0.05
    { at: "2025-05-01T12:00:00Z", nano: 50_000_000 },
    { at: "2025-06-09T23:59:59.999Z", nano: 50_000_000 },
    // from 2025-06-10: in 2, out 8 → 1000×2e-6 + 1000×8e-6 = 0.002 + 0.008 = $0.01
    { at: "2025-06-10T00:00:00Z", nano: 10_000_000 },
    { at: "2025-07-01T12:00:00Z", nano: 10_000_000 },
  ])("1000 in + 1000 out at $at", ({ at, nano }) => {
    const cost = priceUsage(usage(1000, 1000), "o3", { at: new Date(at) });
    expect(cost.nanoUsd).toBe(nano);
    expect(cost.totalUsd).toBe(nano / 1e9);
  });

  it.each([
    // before: 500×10e-6 + 500×0.5e-6 = 0.005 + 0.00025 = $0.00525
    { at: "2025-05-01T00:00:00Z", nano: 5_250_000, details: { input: 5_000_000, input_cache_read: 250_000 } },
    // after:  500×2e-6 + 500×0.5e-6 = 0.001 + 0.00025 = $0.00125
    { at: "2025-07-01T00:00:00Z", nano: 1_250_000, details: { input: 1_000_000, input_cache_read: 250_000 } },
  ])("cached o3 call at $at", ({ at, nano, details }) => {
    const cost = priceUsage(usage(1000, 0, 500), "o3-2025-04-16", { at: new Date(at) });
    expect(cost.nanoUsd).toBe(nano);
    expect(detailsInNano(cost)).toEqual(details);
  });

  it("defaults to now, which is after the price cut", () => {
    // now (after 2025-06-10): 1000×2e-6 + 1000×8e-6 = $0.01
    expect(priceUsage(usage(1000, 1000), "o3").nanoUsd).toBe(10_000_000);
  });
});

describe("long-context tiers apply to the whole call", () => {
  it.each([
    // gemini-2.5-pro at 200000 input tokens is still the base tier (the tier starts *above* 200k):
    // 200000×1.25e-6 + 1000×10e-6 = 0.25 + 0.01 = $0.26
    { name: "exactly 200k in", input: 200_000, output: 1000, cached: 0, nano: 260_000_000, details: { input: 250_000_000, output: 10_000_000 } },
    // one more token and every token is at the higher rate: 200001×2.5e-6 + 1000×15e-6 = 0.5000025 + 0.015 = $0.5150025
    { name: "200001 in", input: 200_001, output: 1000, cached: 0, nano: 515_002_500, details: { input: 500_002_500, output: 15_000_000 } },
    // cached tokens count toward the threshold: 250000 in (100000 cached) is above 200k:
    // 150000×2.5e-6 + 100000×0.25e-6 = 0.375 + 0.025 = $0.4
    { name: "250k in, 100k cached", input: 250_000, output: 0, cached: 100_000, nano: 400_000_000, details: { input: 375_000_000, input_cache_read: 25_000_000 } },
    // below the threshold, cache reads at 0.125: 50000×1.25e-6 + 100000×0.125e-6 = 0.0625 + 0.0125 = $0.075
    { name: "150k in, 100k cached", input: 150_000, output: 0, cached: 100_000, nano: 75_000_000, details: { input: 62_500_000, input_cache_read: 12_500_000 } },
  ])("gemini-2.5-pro: $name", ({ input, output, cached, nano, details }) => {
    const cost = priceUsage(usage(input, output, cached), "gemini-2.5-pro", { provider: "google_genai" });
    expect(cost.nanoUsd).toBe(nano);
    expect(detailsInNano(cost)).toEqual(details);
    expect(detailsSumNano(cost)).toBe(nano);
  });

  it("claude-sonnet-4-5 above 200k: every kind takes its long-context rate", () => {
    // above 200k: in 6, cache_write 7.5, cache_read 0.6, out 22.5. 300000 in = 150000 plain + 100000 read + 50000 written:
    // 150000×6e-6 + 100000×0.6e-6 + 50000×7.5e-6 + 1000×22.5e-6 = 0.9 + 0.06 + 0.375 + 0.0225 = $1.3575
    const cost = priceUsage(usage(300_000, 1000, 100_000, 50_000), "claude-sonnet-4-5");
    expect(cost.nanoUsd).toBe(1_357_500_000);
    expect(detailsInNano(cost)).toEqual({
      input: 900_000_000,
      input_cache_read: 60_000_000,
      input_cache_write: 375_000_000,
      output: 22_500_000,
    });
  });
});
