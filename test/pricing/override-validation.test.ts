/**
 * A malformed `prices` option is a `PriceOverrideError` whose message names the dotted path of each problem.
 */
import { describe, expect, it } from "vitest";
import { MeteredError, PriceOverrideError, priceUsage, UnknownModelPriceError } from "../../src/index.js";

function problemsOf(prices: unknown): readonly string[] {
  try {
    priceUsage({ input_tokens: 1, output_tokens: 1 }, "x", { prices: prices as never });
  } catch (error) {
    if (PriceOverrideError.isInstance(error)) return error.problems;
    throw error;
  }
  throw new Error("expected a PriceOverrideError");
}

describe("PriceOverrideError", () => {
  it("is a MeteredError, not an UnknownModelPriceError, and lists the valid keys", () => {
    let error: unknown;
    try {
      priceUsage({ input_tokens: 1 }, "x", { prices: { x: { input: -1, output: 1 } } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PriceOverrideError);
    expect(PriceOverrideError.isInstance(error)).toBe(true);
    expect(MeteredError.isInstance(error)).toBe(true);
    expect(UnknownModelPriceError.isInstance(error)).toBe(false);
    expect((error as Error).name).toBe("PriceOverrideError");
    expect((error as Error).message).toContain("USD per 1M tokens");
    expect((error as Error).message).toContain("keys input, output, cacheRead, cacheWrite, cacheWrite1h");
    expect((error as Error).message).toContain("  - prices.x.input: ");
  });

  it.each<[string, unknown, string]>([
    ["misspelt key, quoted model name", { "my-model": { input: 1, output: 2, cachedRead: 0.5 } }, 'prices["my-model"]: Unrecognized key: "cachedRead"; did you mean `cacheRead`?'],
    ["misspelt key, identifier model name", { x: { input: 1, output: 2, inputAdio: 3 } }, 'prices.x: Unrecognized key: "inputAdio"; did you mean `inputAudio`?'],
    ["misspelt key, two edits away", { x: { input: 1, output: 2, outputReasonnig: 3 } }, "did you mean `outputReasoning`?"],
    ["negative price", { x: { input: -1, output: 2 } }, "prices.x.input: Too small: expected number to be >=0"],
    ["non-number price", { x: { input: "0.15", output: 2 } }, "prices.x.input: Invalid input"],
    ["missing output", { x: { input: 1 } }, "prices.x.output: Invalid input"],
    ["infinite price", { x: { input: 1, output: Number.POSITIVE_INFINITY } }, "prices.x.output"],
    ["NaN price", { x: { input: Number.NaN, output: 1 } }, "prices.x.input"],
    ["a tier without a price", { x: { input: { base: 1, tiers: [{ start: 10 }] }, output: 1 } }, "prices.x.input"],
    ["not an object", 5, "prices: Invalid input: expected record, received number"],
    ["a model with a price that is not an object", { x: 0.15 }, "prices.x: "],
    ["an empty model name", { "": { input: 1, output: 1 } }, 'prices[""]'],
  ])("%s", (_name, prices, expected) => {
    const problems = problemsOf(prices);
    expect(problems.some((problem) => problem.includes(expected))).toBe(true);
  });

  it("an unknown key with no near match gets no suggestion", () => {
    expect(problemsOf({ x: { input: 1, output: 2, discount: 0.5 } })).toEqual(['prices.x: Unrecognized key: "discount"']);
  });

  it("reports every problem at once", () => {
    const problems = problemsOf({ a: { input: -1, output: 1 }, b: { input: 1 }, c: { input: 1, output: 1, ouptut: 1 } });
    expect(problems).toHaveLength(3);
    expect(problems.map((p) => p.split(":")[0])).toEqual(["prices.a.input", "prices.b.output", "prices.c"]);
  });

  // Regression guard (was a bug in src/pricing/overrides.ts:51): the suggestion is the *first* known key within two edits, not the closest.
  // "ouput" is one edit from `output` but two from `input`, which comes first, so it suggests `input`.
  it("suggests the closest key: ouput → output", () => {
    expect(problemsOf({ x: { input: 1, output: 2, ouput: 3 } })).toEqual(['prices.x: Unrecognized key: "ouput"; did you mean `output`?']);
  });

  // Regression guard (was a bug in src/pricing/overrides.ts:37): array indices are stringified before formatting, so they print as ["0"].
  it("names array indices as [0]", () => {
    const problems = problemsOf({ x: { input: 1, output: { base: 1, tiers: [{ start: -1, price: 2 }] } } });
    expect(problems[0]).toMatch(/^prices\.x\.output\.tiers\[0\]\.start: /);
  });

  it("is thrown however valid the rest of the call is", () => {
    expect(() => priceUsage({ input_tokens: 1 }, "gpt-4o-mini", { prices: { "gpt-4o-mini": { input: 0.15, ouput: 0.6 } as never } })).toThrow(
      PriceOverrideError,
    );
  });
});
