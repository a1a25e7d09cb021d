/**
 * refreshPrices: opt-in fresher price data at run time, through genai-prices' `updatePrices`. The user
 * supplies the fetch (here a fake returning hand-made provider data) and where to keep it; costs name the
 * data they were priced with. The tests share genai-prices' module state, so they run in order.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { GENAI_PRICES_VERSION, priceUsage, type PriceDataStore, type PriceRefresher, refreshPrices, type StoredPriceData } from "../../src/index.js";

/** genai-prices-shaped data with one model, gpt-4o-mini, at `input` USD per 1M input tokens. */
const data = (input: number) => [
  {
    id: "openai",
    name: "OpenAI",
    api_pattern: "https://api\\.openai\\.com",
    model_match: { starts_with: "gpt-" },
    models: [{ id: "gpt-4o-mini", match: { equals: "gpt-4o-mini" }, prices: { input_mtok: input, output_mtok: 0.6 } }],
  },
];
const ONE_MILLION_IN = { input_tokens: 1_000_000, output_tokens: 0, total_tokens: 1_000_000 };

function memoryStore(initial?: StoredPriceData): PriceDataStore & { saved: StoredPriceData[] } {
  let entry = initial;
  const saved: StoredPriceData[] = [];
  return {
    saved,
    load: async () => entry ?? null,
    save: async (next) => {
      saved.push(next);
      entry = next;
    },
  };
}

let refresher: PriceRefresher | undefined;
afterEach(() => refresher?.stop());

describe("refreshPrices", () => {
  it("is off by default: the bundled data prices calls", () => {
    expect(priceUsage(ONE_MILLION_IN, "gpt-4o-mini")).toMatchObject({ totalUsd: 0.15, priceSource: `genai-prices@${GENAI_PRICES_VERSION}` });
  });

  it("applies fetched data, drops lookups cached from the old data, and names the data in priceSource", async () => {
    const fetch = vi.fn(async (_url: string) => data(1));
    const store = memoryStore();
    refresher = refreshPrices({ fetch, store, now: () => Date.UTC(2025, 10, 1) });
    await refresher.ready;
    expect(fetch).toHaveBeenCalledWith(expect.stringContaining("genai-prices"));
    expect(priceUsage(ONE_MILLION_IN, "gpt-4o-mini")).toMatchObject({ totalUsd: 1, priceSource: `genai-prices@${GENAI_PRICES_VERSION}+data-2025-11-01T00:00:00.000Z` });
    expect(store.saved).toEqual([{ data: data(1), version: "2025-11-01T00:00:00.000Z", fetchedAt: Date.UTC(2025, 10, 1) }]);
  });

  it("stored data younger than maxAgeMs is used without fetching", async () => {
    const fetch = vi.fn(async () => data(9));
    const now = Date.UTC(2025, 10, 2);
    refresher = refreshPrices({ fetch, store: memoryStore({ data: data(2), version: "v2", fetchedAt: now - 1000 }), now: () => now });
    await refresher.ready;
    expect(fetch).not.toHaveBeenCalled();
    expect(priceUsage(ONE_MILLION_IN, "gpt-4o-mini")).toMatchObject({ totalUsd: 2, priceSource: `genai-prices@${GENAI_PRICES_VERSION}+data-v2` });
  });

  it("data older than maxAgeMs is fetched again in the background at the next lookup", async () => {
    let now = Date.UTC(2025, 10, 3);
    const fetch = vi.fn(async () => data(4));
    refresher = refreshPrices({ fetch, store: memoryStore({ data: data(3), version: "v3", fetchedAt: now }), maxAgeMs: 60_000, now: () => now });
    await refresher.ready;
    expect(priceUsage(ONE_MILLION_IN, "gpt-4o-mini").totalUsd).toBe(3);
    now += 60_000;
    expect(priceUsage(ONE_MILLION_IN, "gpt-4o-mini").totalUsd).toBe(3); // this lookup starts the refresh
    await vi.waitFor(() => expect(priceUsage(ONE_MILLION_IN, "gpt-4o-mini").totalUsd).toBe(4));
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it("a failed fetch or bad data keeps the data in use and reports the error", async () => {
    const errors: unknown[] = [];
    refresher = refreshPrices({ fetch: async () => data(5), now: () => Date.UTC(2025, 10, 4), onError: (e) => errors.push(e) });
    await refresher.ready;
    const good = priceUsage(ONE_MILLION_IN, "gpt-4o-mini");
    refresher.stop();
    refresher = refreshPrices({ fetch: async () => ({ not: "providers" }), onError: (e) => errors.push(e) });
    await refresher.ready;
    await expect(refresher.refresh()).rejects.toThrow(/not genai-prices provider data/);
    refresher.stop();
    refresher = refreshPrices({ fetch: async () => Promise.reject(new Error("offline")), onError: (e) => errors.push(e) });
    await refresher.ready;
    expect(priceUsage(ONE_MILLION_IN, "gpt-4o-mini")).toEqual(good);
    expect(errors.map((e) => (e as Error).message)).toEqual([expect.stringMatching(/not genai-prices provider data/), "offline"]);
  });

  it("after stop(), lookups never start a refresh", async () => {
    let now = Date.UTC(2025, 10, 5);
    const fetch = vi.fn(async () => data(6));
    refresher = refreshPrices({ fetch, maxAgeMs: 1, now: () => now });
    await refresher.ready;
    refresher.stop();
    now += 10_000;
    priceUsage(ONE_MILLION_IN, "gpt-4o-mini");
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it("keeps retrying after a fetch that throws synchronously (it used to stop for good)", async () => {
    let t = Date.UTC(2025, 10, 5);
    let calls = 0;
    const fetch = (() => {
      calls += 1;
      if (calls === 1) throw new Error("sync boom");
      return Promise.resolve(data(5));
    }) as unknown as (url: string) => Promise<unknown>;
    const errors: unknown[] = [];
    refresher = refreshPrices({ fetch, now: () => t, retryAfterMs: 10, onError: (error) => void errors.push(error) });
    await refresher.ready;
    expect(errors).toHaveLength(1);
    t += 100; // past the retry delay: the next lookup starts a new attempt
    priceUsage(ONE_MILLION_IN, "gpt-4o-mini");
    await vi.waitFor(() => expect(priceUsage(ONE_MILLION_IN, "gpt-4o-mini").totalUsd).toBe(5));
    expect(calls).toBe(2);
  });
});
