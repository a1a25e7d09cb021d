/**
 * Integer money: rates in femto-USD per token, a call rounded once to nano-USD, sums that never drift.
 */
import { describe, expect, it } from "vitest";
import { costOfUsage } from "../../src/pricing/cost.js";
import { compilePrice } from "../../src/pricing/model-price.js";
import { nanoToUsd, perMtokToFemtoPerToken, roundCall, usdToNano } from "../../src/pricing/money.js";
import type { Usage } from "../../src/index.js";

describe("perMtokToFemtoPerToken", () => {
  it.each([
    // $X per 1M tokens = X×1e-6 USD per token = X×1e9 femto-USD per token
    [0.15, 150_000_000n],
    [0.075, 75_000_000n],
    [1.1, 1_100_000_000n],
    [4.4, 4_400_000_000n],
    [3.75, 3_750_000_000n],
    [22.5, 22_500_000_000n],
    [0.0015, 1_500_000n],
    [0.000000001, 1n],
    [0, 0n],
  ])("$%s/1M → %s femto per token", (usdPerMtok, femto) => {
    expect(perMtokToFemtoPerToken(usdPerMtok)).toBe(femto);
  });
});

describe("nanoToUsd / usdToNano", () => {
  it.each([
    [435_000, 0.000435],
    [150_000_000, 0.15],
    [1, 1e-9],
    [0, 0],
  ])("%s nano ↔ $%s", (nano, usd) => {
    expect(nanoToUsd(nano)).toBe(usd);
    expect(usdToNano(usd)).toBe(nano);
  });

  it("usdToNano rounds to the nearest nano-dollar", () => {
    expect(usdToNano(0.1 + 0.2)).toBe(300_000_000);
    expect(usdToNano(1.4e-9)).toBe(1);
    expect(usdToNano(1.6e-9)).toBe(2);
  });
});

describe("roundCall", () => {
  it.each<[string, Array<[string, bigint]>, number, Array<[string, number]>]>([
    ["nothing", [], 0, []],
    ["1.5 nano rounds half up", [["a", 1_500_000n]], 2, [["a", 2]]],
    ["1.499999 nano rounds down", [["a", 1_499_999n]], 1, [["a", 1]]],
    // 0.5 + 0.5 = 1.0: the one nano goes to the earlier of two equal remainders
    ["equal remainders: the earlier part wins", [["a", 500_000n], ["b", 500_000n]], 1, [["a", 1], ["b", 0]]],
    // 0.4 + 0.7 = 1.1 → 1: the larger remainder gets it
    ["the largest remainder wins", [["a", 400_000n], ["b", 700_000n]], 1, [["a", 0], ["b", 1]]],
    // 2.6 + 3.3 + 4.1 = 10.0 → floors 2 + 3 + 4 = 9, one left for a (0.6)
    ["one leftover among three", [["a", 2_600_000n], ["b", 3_300_000n], ["c", 4_100_000n]], 10, [["a", 3], ["b", 3], ["c", 4]]],
    // 3 × 0.499999 = 1.499997 → 1 (rounding each would give 0)
    ["parts below half still add up", [["a", 499_999n], ["b", 499_999n], ["c", 499_999n]], 1, [["a", 1], ["b", 0], ["c", 0]]],
    // $1000 in one part: 1e18 femto = 1e12 nano, exact
    ["large amounts stay exact", [["a", 10n ** 18n], ["b", 1n]], 1_000_000_000_000, [["a", 1_000_000_000_000], ["b", 0]]],
  ])("%s", (_name, parts, total, partsNano) => {
    const result = roundCall(parts);
    expect(result.totalNano).toBe(total);
    expect(result.partsNano).toEqual(partsNano);
  });
});

describe("sums never drift", () => {
  it("1,000,000 calls of 150 nano-USD sum to exactly 150000000 nano ($0.15)", () => {
    // gpt-4o-mini input $0.15/1M: one input token = 0.15e-6 USD = 150 nano-USD
    const price = compilePrice({ input: 0.15, output: 0.6 });
    const oneToken: Usage = {
      inputTokens: 1,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      cacheWrite1hTokens: 0,
      inputAudioTokens: 0,
      outputTokens: 0,
      reasoningTokens: 0,
      outputAudioTokens: 0,
    };
    let totalNano = 0;
    let totalUsdAsFloats = 0;
    for (let i = 0; i < 1_000_000; i++) {
      const cost = costOfUsage(oneToken, price);
      totalNano += cost.totalNanoUsd;
      totalUsdAsFloats += nanoToUsd(cost.totalNanoUsd);
    }
    expect(totalNano).toBe(150_000_000);
    expect(nanoToUsd(totalNano)).toBe(0.15);
    // …whereas adding the same calls as USD floats drifts (why money is integer nano-USD inside)
    expect(totalUsdAsFloats).not.toBe(0.15);
  });
});
