/**
 * What pricing refuses to do: price an unknown model at $0, or price a usage that contradicts itself.
 */
import { describe, expect, it } from "vitest";
import { MeteredError, normalizeUsage, PriceOverrideError, priceUsage, UnknownModelPriceError, type Usage } from "../../src/index.js";
import { compilePrice } from "../../src/pricing/model-price.js";
import { costOfUsage } from "../../src/pricing/cost.js";

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected a throw");
}

describe("UnknownModelPriceError", () => {
  it("is thrown for a model nobody prices, never a $0 cost", () => {
    const error = thrown(() => priceUsage({ input_tokens: 10, output_tokens: 5 }, "mystery-model"));
    expect(error).toBeInstanceOf(UnknownModelPriceError);
    expect(UnknownModelPriceError.isInstance(error)).toBe(true);
    expect(MeteredError.isInstance(error)).toBe(true);
    expect(PriceOverrideError.isInstance(error)).toBe(false);
    expect(error).toMatchObject({ name: "UnknownModelPriceError", model: "mystery-model", provider: undefined });
  });

  it("names the model and shows how to price it with the `prices` option", () => {
    const { message } = thrown(() => priceUsage({ input_tokens: 10 }, "mystery-model")) as Error;
    expect(message).toContain('"mystery-model"');
    expect(message).toContain("`prices`");
    expect(message).toContain('prices: { "mystery-model": { input:');
  });

  it("says how to price it from the entry point used", () => {
    const fix = (entry?: string) => new UnknownModelPriceError("my-model", undefined, { entry }).message;
    expect(fix()).toContain('new MeteredChatModel({ model: "my-model", prices: { "my-model": { input: 0.15, output: 0.6 } } })');
    expect(fix()).toMatch(/set `provider`.*count that with `costSource: "reported"`/);
    expect(fix("meter()")).toContain('meter(model, { prices: { "my-model":');
    expect(fix("BudgetCallbackHandler")).toContain('new BudgetCallbackHandler({ prices: { "my-model":');
    expect(fix("BudgetCallbackHandler")).toContain('meter(model, { costSource: "reported" })');
    expect(fix("withBudget()")).toContain('withBudget({ prices: { "my-model":');
    expect(fix("budgetMiddleware()")).toContain('budgetMiddleware({ prices: { "my-model":');
    const { message } = thrown(() => priceUsage({ input_tokens: 10 }, "my-model")) as Error;
    expect(message).toContain('priceUsage(usage, "my-model", { prices: { "my-model":');
    expect(message).not.toContain("costSource");
  });

  it("says why a price was needed when the endpoint's report didn't come, or a hard cap needs one", () => {
    const missing = new UnknownModelPriceError("openrouter/auto", "openrouter", { reportMissing: true }).message;
    expect(missing).toMatch(/^The endpoint reported no cost for this call \(costSource: "reported"\) and no price is known for model "openrouter\/auto" \(provider "openrouter"\)/);
    expect(missing).not.toContain('count that with `costSource: "reported"`');
    const capped = new UnknownModelPriceError("openrouter/auto", "openrouter", { entry: "meter()", hardCap: true }).message;
    expect(capped).toMatch(/^A hard cap reserves each call's worst case before sending it, which needs a price/);
  });

  it("names the provider it was looked up under", () => {
    const error = thrown(() => priceUsage({ input_tokens: 10 }, "mystery-model", { provider: "google_genai" })) as UnknownModelPriceError;
    expect(error.provider).toBe("google_genai");
    expect(error.message).toContain('(provider "google_genai")');
  });

  it("isInstance recognises a copy from another install by its marker, and rejects look-alikes", () => {
    const foreign = Object.assign(new Error("x"), {
      [Symbol.for("langchain-metered.error")]: true,
      [Symbol.for("langchain-metered.UnknownModelPriceError")]: true,
    });
    expect(UnknownModelPriceError.isInstance(foreign)).toBe(true);
    expect(MeteredError.isInstance(foreign)).toBe(true);
    expect(UnknownModelPriceError.isInstance(new Error('No price is known for model "x"'))).toBe(false);
    expect(MeteredError.isInstance(null)).toBe(false);
    expect(MeteredError.isInstance("UnknownModelPriceError")).toBe(false);
  });
});

describe("a usage that contradicts itself is a RangeError", () => {
  const valid: Usage = {
    inputTokens: 100,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    cacheWrite1hTokens: 0,
    inputAudioTokens: 0,
    outputTokens: 50,
    reasoningTokens: 0,
    outputAudioTokens: 0,
  };
  const price = compilePrice({ input: 1, output: 2 });

  it.each<[string, Partial<Usage>]>([
    ["more cached than input tokens", { cacheReadTokens: 101 }],
    ["more cache writes than input tokens", { cacheWriteTokens: 101 }],
    ["cache reads + writes + audio above input", { cacheReadTokens: 40, cacheWriteTokens: 40, inputAudioTokens: 21 }],
    ["more 1-hour writes than writes", { cacheWriteTokens: 10, cacheWrite1hTokens: 11 }],
    ["more reasoning than output tokens", { reasoningTokens: 51 }],
    ["reasoning + output audio above output", { reasoningTokens: 30, outputAudioTokens: 21 }],
  ])("%s", (_name, patch) => {
    expect(() => costOfUsage({ ...valid, ...patch }, price)).toThrow(RangeError);
    expect(() => priceUsage({ ...valid, ...patch }, "gpt-4o-mini")).toThrow(RangeError);
  });

  it("from usage_metadata too (cache_read > input_tokens)", () => {
    const metadata = { input_tokens: 100, output_tokens: 1, input_token_details: { cache_read: 200 } };
    expect(normalizeUsage(metadata).cacheReadTokens).toBe(200);
    expect(() => priceUsage(metadata, "gpt-4o-mini")).toThrow(/cache reads \(200\).*exceed input tokens \(100\)/);
  });

  it("the limits themselves are valid", () => {
    // all 100 input tokens cached, all 50 output tokens reasoning: 100×1e-6 + 50×2e-6 = $0.0002
    const cost = costOfUsage({ ...valid, cacheReadTokens: 100, reasoningTokens: 50 }, price);
    expect(cost.totalNanoUsd).toBe(200_000);
    expect(cost.detailsNanoUsd).toEqual({ input_cache_read: 100_000, output_reasoning: 100_000 });
  });
});
