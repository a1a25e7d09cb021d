/**
 * The genai-prices lookup: resolved once per name and compiled once per price, so repeated calls get the very
 * same compiled price object; provider ids map from LangChain's names.
 */
import { describe, expect, it } from "vitest";
import { GENAI_PRICES_VERSION } from "../../src/index.js";
import { fromGenai, lookupGenaiPrice } from "../../src/pricing/genai-prices.js";
import { genaiProviderId } from "../../src/pricing/providers.js";

const now = new Date("2026-01-01T00:00:00Z");

describe("lookupGenaiPrice", () => {
  it("returns the identical compiled price object on repeated calls", () => {
    const first = lookupGenaiPrice("gpt-4o-mini", "openai", now);
    const second = lookupGenaiPrice("gpt-4o-mini", "openai", now);
    expect(first).toBeDefined();
    expect(second?.price).toBe(first?.price);
  });

  it("a dated snapshot shares its family's compiled price", () => {
    const family = lookupGenaiPrice("gpt-4o-mini", undefined, now);
    const snapshot = lookupGenaiPrice("gpt-4o-mini-2024-07-18", undefined, now);
    expect(snapshot).toMatchObject({ model: "gpt-4o-mini", provider: "openai" });
    expect(snapshot?.price).toBe(family?.price);
  });

  it("date-dependent prices: one compiled object per period, reused", () => {
    const may = lookupGenaiPrice("o3", "openai", new Date("2025-05-01T00:00:00Z"));
    const april = lookupGenaiPrice("o3", "openai", new Date("2025-04-20T00:00:00Z"));
    const july = lookupGenaiPrice("o3", "openai", new Date("2025-07-01T00:00:00Z"));
    const august = lookupGenaiPrice("o3", "openai", new Date("2025-08-01T00:00:00Z"));
    expect(april?.price).toBe(may?.price);
    expect(august?.price).toBe(july?.price);
    expect(july?.price).not.toBe(may?.price);
    // o3 input: $10/1M = 1e-5 USD = 1e10 femto-USD per token before the cut, $2/1M = 2e9 femto after
    expect(may?.price.input.base).toBe(10_000_000_000n);
    expect(july?.price.input.base).toBe(2_000_000_000n);
  });

  it("compiles to femto-USD per token, with parents' rates for kinds without a price", () => {
    const found = lookupGenaiPrice("gpt-4o-mini", undefined, now);
    // in 0.15 → 1.5e8 femto; cache 0.075 → 7.5e7; out 0.6 → 6e8; audio and reasoning fall back to in/out
    expect(found?.price.input.base).toBe(150_000_000n);
    expect(found?.price.cacheRead.base).toBe(75_000_000n);
    expect(found?.price.output.base).toBe(600_000_000n);
    expect(found?.price.inputAudio.base).toBe(150_000_000n);
    expect(found?.price.outputReasoning.base).toBe(600_000_000n);
  });

  it("keeps long-context tiers", () => {
    const found = lookupGenaiPrice("gemini-2.5-pro", "google", now);
    // in 1.25 → 1.25e9 femto, 2.5 above 200k → 2.5e9
    expect(found?.price.input).toEqual({ base: 1_250_000_000n, tiers: [{ start: 200_000, price: 2_500_000_000n }] });
  });

  it("an unknown model, or a known one under an unknown provider, is not priced", () => {
    expect(lookupGenaiPrice("mystery-model", undefined, now)).toBeUndefined();
    expect(lookupGenaiPrice("mystery-model", undefined, now)).toBeUndefined(); // a cached miss stays a miss
    expect(lookupGenaiPrice("gpt-4o-mini", "no-such-provider", now)).toBeUndefined();
  });

  it("names the bundled release", () => {
    expect(GENAI_PRICES_VERSION).toBe("0.1.8");
  });
});

describe("fromGenai", () => {
  it("maps *_mtok keys and web searches to ours and ignores the rest", () => {
    expect(fromGenai({ input_mtok: 0.15, cache_read_mtok: 0.075, output_mtok: 0.6, web_searches_kcount: 10, storage_searches_kcount: 2.5 })).toEqual({
      input: 0.15,
      cacheRead: 0.075,
      output: 0.6,
      webSearchPerThousand: 10,
    });
  });

  it("is null without both an input and an output price", () => {
    expect(fromGenai({ input_mtok: 1 })).toBeNull();
    expect(fromGenai({ requests_kcount: 1 })).toBeNull();
  });
});

describe("genaiProviderId", () => {
  it.each([
    ["openai", "openai"],
    ["OpenAI", "openai"],
    ["azure_openai", "azure"],
    ["google_genai", "google"],
    ["google_vertexai", "google"],
    ["google-genai", "google"],
    ["anthropic", "anthropic"],
    ["mistralai", "mistral"],
    ["togetherai", "together"],
    ["some-proxy", "some-proxy"],
    [undefined, undefined],
    ["", undefined],
  ])("%s → %s", (name, id) => {
    expect(genaiProviderId(name)).toBe(id);
  });
});
