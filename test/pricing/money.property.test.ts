/**
 * Properties of integer money (fast-check): rounding once, details summing to the total, no negative
 * cost, and cost monotonic in every token count.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ModelPrice, Rate, Usage } from "../../src/index.js";
import { costOfUsage } from "../../src/pricing/cost.js";
import { compilePrice } from "../../src/pricing/model-price.js";
import { roundCall } from "../../src/pricing/money.js";

const FEMTO_PER_NANO = 1_000_000n;
const roundHalfUp = (femto: bigint): number => Number((femto + FEMTO_PER_NANO / 2n) / FEMTO_PER_NANO);

/** The rounding as it was first written, all in BigInt with a stable sort: the reference the fast path must match. */
function referenceRoundCall(parts: ReadonlyArray<readonly [string, bigint]>): { totalNano: number; partsNano: Array<[string, number]> } {
  const total = parts.reduce((sum, [, femto]) => sum + femto, 0n);
  const totalNano = (total + FEMTO_PER_NANO / 2n) / FEMTO_PER_NANO;
  const floors = parts.map(([key, femto]) => ({ key, nano: femto / FEMTO_PER_NANO, remainder: femto % FEMTO_PER_NANO }));
  let leftover = totalNano - floors.reduce((sum, part) => sum + part.nano, 0n);
  for (const part of [...floors].sort((a, b) => (b.remainder > a.remainder ? 1 : b.remainder < a.remainder ? -1 : 0))) {
    if (leftover <= 0n) break;
    part.nano += 1n;
    leftover -= 1n;
  }
  return { totalNano: Number(totalNano), partsNano: floors.map((part) => [part.key, Number(part.nano)]) };
}

describe("roundCall", () => {
  const parts = fc.array(fc.tuple(fc.constantFrom("a", "b", "c", "d", "e", "f", "g"), fc.bigInt({ min: 0n, max: 10n ** 15n })), {
    maxLength: 7,
  });
  // Amounts from a few femto to past 2^53 (BigInt there, as costOfUsage hands them), with many equal remainders.
  const amount = fc.oneof(fc.bigInt({ min: 0n, max: 10n ** 7n }), fc.bigInt({ min: 0n, max: 10n ** 17n }), fc.constantFrom(500_000n, 1_500_000n, 2n ** 53n + 7n));
  const mixed = fc.array(fc.tuple(fc.constantFrom("a", "b", "c", "d", "e", "f", "g", "h"), amount, fc.boolean()), { maxLength: 8 });

  it("in numbers or BigInts alike, matches the reference to the nano-dollar, ties to the earlier part", () => {
    fc.assert(
      fc.property(mixed, (p) => {
        const asGiven = p.map(([key, femto, asNumber]) => [key, asNumber && femto <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(femto) : femto] as const);
        expect(roundCall(asGiven)).toEqual(referenceRoundCall(p.map(([key, femto]) => [key, femto] as const)));
      }),
      { numRuns: 2000 },
    );
  });

  it("total is the exact femto sum rounded half up, once", () => {
    fc.assert(
      fc.property(parts, (p) => {
        const exact = p.reduce((sum, [, femto]) => sum + femto, 0n);
        expect(roundCall(p).totalNano).toBe(roundHalfUp(exact));
      }),
    );
  });

  it("parts sum exactly to the total, each its floor or floor + 1, keys in order", () => {
    fc.assert(
      fc.property(parts, (p) => {
        const { totalNano, partsNano } = roundCall(p);
        expect(partsNano.reduce((sum, [, nano]) => sum + nano, 0)).toBe(totalNano);
        expect(partsNano.map(([key]) => key)).toEqual(p.map(([key]) => key));
        partsNano.forEach(([, nano], i) => {
          const floor = Number((p[i]?.[1] ?? 0n) / FEMTO_PER_NANO);
          expect(nano === floor || nano === floor + 1).toBe(true);
        });
      }),
    );
  });
});

// USD per 1M tokens with up to six decimals (e.g. 0.075, 1.234567)
const usdPerMtok = fc.integer({ min: 0, max: 100_000_000 }).map((n) => n / 1e6);
// A flat rate, or a base with tiers whose prices never go down (as long-context tiers do)
const rate: fc.Arbitrary<Rate> = fc.oneof(
  usdPerMtok,
  fc
    .record({ base: usdPerMtok, steps: fc.array(fc.tuple(fc.nat(300_000), usdPerMtok), { maxLength: 3 }) })
    .map(({ base, steps }) => {
      let price = base;
      const starts = [...new Set(steps.map(([start]) => start))].sort((a, b) => a - b);
      const tiers = starts.map((start, i) => ({ start, price: (price = Math.round((price + (steps[i]?.[1] ?? 0)) * 1e6) / 1e6) }));
      return { base, tiers };
    }),
);
const priceArb: fc.Arbitrary<ModelPrice> = fc.record(
  {
    input: rate,
    output: rate,
    cacheRead: rate,
    cacheWrite: rate,
    cacheWrite1h: rate,
    inputAudio: rate,
    outputAudio: rate,
    outputReasoning: rate,
  },
  { requiredKeys: ["input", "output"] },
);

/** A usage as its disjoint parts, so any part can grow while the usage stays valid. */
interface Parts {
  plain: number;
  cacheRead: number;
  cacheWrite5m: number;
  cacheWrite1h: number;
  inputAudio: number;
  plainOutput: number;
  reasoning: number;
  outputAudio: number;
}
const partsArb: fc.Arbitrary<Parts> = fc.record({
  plain: fc.nat(500_000),
  cacheRead: fc.nat(200_000),
  cacheWrite5m: fc.nat(100_000),
  cacheWrite1h: fc.nat(100_000),
  inputAudio: fc.nat(100_000),
  plainOutput: fc.nat(100_000),
  reasoning: fc.nat(100_000),
  outputAudio: fc.nat(100_000),
});
const toUsage = (p: Parts): Usage => ({
  inputTokens: p.plain + p.cacheRead + p.cacheWrite5m + p.cacheWrite1h + p.inputAudio,
  cacheReadTokens: p.cacheRead,
  cacheWriteTokens: p.cacheWrite5m + p.cacheWrite1h,
  cacheWrite1hTokens: p.cacheWrite1h,
  inputAudioTokens: p.inputAudio,
  outputTokens: p.plainOutput + p.reasoning + p.outputAudio,
  reasoningTokens: p.reasoning,
  outputAudioTokens: p.outputAudio,
});

describe("costOfUsage", () => {
  it("is never negative, and its details sum exactly to the total", () => {
    fc.assert(
      fc.property(priceArb, partsArb, (price, parts) => {
        const { totalNanoUsd, detailsNanoUsd } = costOfUsage(toUsage(parts), compilePrice(price));
        const details = Object.values(detailsNanoUsd);
        expect(totalNanoUsd).toBeGreaterThanOrEqual(0);
        expect(Number.isInteger(totalNanoUsd)).toBe(true);
        for (const nano of details) expect(nano).toBeGreaterThanOrEqual(0);
        expect(details.reduce((sum, nano) => sum + nano, 0)).toBe(totalNanoUsd);
      }),
      { numRuns: 500 },
    );
  });

  it("lists only the kinds that have tokens", () => {
    fc.assert(
      fc.property(priceArb, partsArb, (price, parts) => {
        const { detailsNanoUsd } = costOfUsage(toUsage(parts), compilePrice(price));
        const expected = (
          [
            ["input", parts.plain],
            ["input_cache_read", parts.cacheRead],
            ["input_cache_write", parts.cacheWrite5m + parts.cacheWrite1h],
            ["input_audio", parts.inputAudio],
            ["output", parts.plainOutput],
            ["output_reasoning", parts.reasoning],
            ["output_audio", parts.outputAudio],
          ] as const
        )
          .filter(([, tokens]) => tokens > 0)
          .map(([key]) => key);
        expect(Object.keys(detailsNanoUsd).sort()).toEqual([...expected].sort());
      }),
    );
  });

  it("is monotonic: more tokens of any kind never cost less", () => {
    const kinds = ["plain", "cacheRead", "cacheWrite5m", "cacheWrite1h", "inputAudio", "plainOutput", "reasoning", "outputAudio"] as const;
    fc.assert(
      fc.property(priceArb, partsArb, fc.constantFrom(...kinds), fc.integer({ min: 1, max: 300_000 }), (price, parts, kind, more) => {
        const compiled = compilePrice(price);
        const before = costOfUsage(toUsage(parts), compiled).totalNanoUsd;
        const after = costOfUsage(toUsage({ ...parts, [kind]: parts[kind] + more }), compiled).totalNanoUsd;
        expect(after).toBeGreaterThanOrEqual(before);
      }),
      { numRuns: 500 },
    );
  });

  it("stays exact where tokens × rate crosses 2^53 (floating point below, BigInt past it)", () => {
    const price = compilePrice({ input: 97.654321, output: 90.000001 });
    for (const tokens of [92_233, 92_237, 100_003, 1_234_567, 9_999_991]) {
      const usage: Usage = { ...toUsage({ plain: tokens, cacheRead: 0, cacheWrite5m: 0, cacheWrite1h: 0, inputAudio: 0, plainOutput: tokens, reasoning: 0, outputAudio: 0 }) };
      const exact = BigInt(tokens) * 97_654_321_000n + BigInt(tokens) * 90_000_001_000n;
      expect(costOfUsage(usage, price).totalNanoUsd).toBe(roundHalfUp(exact));
    }
  });

  it("with flat prices, equals Σ tokens × rate in femto-USD, rounded half up once", () => {
    const flat = fc.record({
      input: usdPerMtok,
      output: usdPerMtok,
      cacheRead: usdPerMtok,
      cacheWrite: usdPerMtok,
      cacheWrite1h: usdPerMtok,
      inputAudio: usdPerMtok,
      outputAudio: usdPerMtok,
      outputReasoning: usdPerMtok,
    });
    fc.assert(
      fc.property(flat, partsArb, (price, p) => {
        // $X/1M = X×1e9 femto-USD per token (X has at most six decimals, so X×1e9 is an integer)
        const femto = (tokens: number, usdPerM: number) => BigInt(tokens) * BigInt(Math.round(usdPerM * 1e9));
        const exact =
          femto(p.plain, price.input) +
          femto(p.cacheRead, price.cacheRead) +
          femto(p.cacheWrite5m, price.cacheWrite) +
          femto(p.cacheWrite1h, price.cacheWrite1h) +
          femto(p.inputAudio, price.inputAudio) +
          femto(p.plainOutput, price.output) +
          femto(p.reasoning, price.outputReasoning) +
          femto(p.outputAudio, price.outputAudio);
        expect(costOfUsage(toUsage(p), compilePrice(price)).totalNanoUsd).toBe(roundHalfUp(exact));
      }),
    );
  });
});
