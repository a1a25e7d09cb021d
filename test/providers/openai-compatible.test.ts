/**
 * OpenAI-compatible endpoints reached through ChatOpenAI / MeteredChatModel with a `baseURL`: the base URL
 * names the provider (genai-prices' own `api_pattern`s), so the right price table applies. The requests
 * really go to the providers' URLs as far as the SDK knows; a `fetch` sends them to the loopback fake.
 * Costs the endpoint states itself (OpenRouter's `usage.cost`, a LiteLLM proxy's header) sit beside ours.
 *
 * Prices, USD per 1M tokens (genai-prices 0.1.8): Groq llama-3.3-70b-versatile in 0.59 out 0.79;
 * DeepSeek deepseek-chat in 0.27 cache read 0.07 out 1.10; Together Llama-3.3-70B-Instruct-Turbo 0.88/0.88;
 * Mistral mistral-small-latest 0.10/0.30; OpenRouter openai/gpt-4o-mini and OpenAI/Azure gpt-4o-mini
 * in 0.15 out 0.60.
 */
import { RunnableLambda } from "@langchain/core/runnables";
import { ChatOpenAI } from "@langchain/openai";
import { describe, expect, it, vi } from "vitest";
import { BudgetCallbackHandler, BudgetExceededError, LITELLM_COST_HEADER, meter, MeteredChatModel, type MeteredChatModelFields, providerFromBaseUrl, UnknownModelPriceError } from "../../src/index.js";
import { baseUrlOfSerialized, resolveProvider } from "../../src/pricing/providers.js";
import { collect, costOf, useFakeOpenAI } from "../support/metered.js";

const fake = useFakeOpenAI();

/** A fetch that sends whatever the SDK asks of a provider's URL to the fake's matching route. */
function toFake(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const url = new URL(input instanceof Request ? input.url : String(input));
  const route = /\/(chat\/completions|responses)$/.exec(url.pathname)?.[1] ?? url.pathname;
  return fetch(`${fake.server.url}/${route}`, init);
}

const at = (baseURL: string, fields: Partial<MeteredChatModelFields>) =>
  new MeteredChatModel({ apiKey: "test", maxRetries: 0, configuration: { baseURL, fetch: toFake }, budget: false, ...fields });

describe("the provider, from the base URL", () => {
  it.each([
    ["https://api.openai.com/v1", "openai"],
    ["https://my-resource.openai.azure.com/openai/v1", "azure"],
    ["https://api.groq.com/openai/v1", "groq"],
    ["https://api.deepseek.com", "deepseek"],
    ["https://api.together.xyz/v1", "together"],
    ["https://openrouter.ai/api/v1", "openrouter"],
    ["https://api.mistral.ai/v1", "mistral"],
    ["https://api.anthropic.com", "anthropic"],
    ["https://generativelanguage.googleapis.com", "google"],
    ["http://127.0.0.1:4000", undefined],
  ])("%s → %s", (url, provider) => {
    expect(providerFromBaseUrl(url)).toBe(provider);
  });
});

describe("which provider's prices apply", () => {
  it.each([
    [{ explicit: "groq", lsProvider: "openai", baseUrl: "https://api.openai.com/v1" }, "groq"],
    [{ lsProvider: "anthropic", baseUrl: "https://my-gateway.example/anthropic" }, "anthropic"],
    [{ lsProvider: "google_genai" }, "google"],
    [{ lsProvider: "azure", baseUrl: "https://api.openai.com/v1" }, "azure"],
    [{ lsProvider: "openai", baseUrl: "https://api.deepseek.com" }, "deepseek"],
    [{ lsProvider: "openai", baseUrl: "http://127.0.0.1:4000/v1" }, "openai"],
    [{}, undefined],
  ])("%o → %s", (from, provider) => {
    expect(resolveProvider(from)).toBe(provider);
  });

  it("a model's serialized form (handleChatModelStart's first argument) gives its base URL", () => {
    const groq = new ChatOpenAI({ model: "llama-3.3-70b-versatile", apiKey: "t", configuration: { baseURL: "https://api.groq.com/openai/v1" } });
    expect(baseUrlOfSerialized(groq.toJSON())).toBe("https://api.groq.com/openai/v1");
    expect(baseUrlOfSerialized({ kwargs: { anthropic_api_url: "https://api.anthropic.com" } })).toBe("https://api.anthropic.com");
    expect(baseUrlOfSerialized(new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "t" }).toJSON())).toBeUndefined();
  });
});

describe("MeteredChatModel against OpenAI-compatible providers", () => {
  it.each([
    // 1000 × 0.59 + 500 × 0.79 = $0.00059 + $0.000395
    { baseURL: "https://api.groq.com/openai/v1", model: "llama-3.3-70b-versatile", provider: "groq", nano: 985_000 },
    // 1500 × 0.88
    { baseURL: "https://api.together.xyz/v1", model: "meta-llama/Llama-3.3-70B-Instruct-Turbo", provider: "together", nano: 1_320_000 },
    // 1000 × 0.10 + 500 × 0.30
    { baseURL: "https://api.mistral.ai/v1", model: "mistral-small-latest", provider: "mistral", nano: 250_000 },
    // 1000 × 0.15 + 500 × 0.60
    { baseURL: "https://openrouter.ai/api/v1", model: "openai/gpt-4o-mini", provider: "openrouter", nano: 450_000 },
    { baseURL: "https://my-resource.openai.azure.com/openai/v1", model: "gpt-4o-mini", provider: "azure", nano: 450_000 },
  ])("$provider: $model at its price", async ({ baseURL, model, provider, nano }) => {
    fake.server.script({ usage: { promptTokens: 1000, completionTokens: 500 } });
    const message = await at(baseURL, { model }).invoke("hi");
    expect(costOf(message)).toMatchObject({ nanoUsd: nano, provider });
  });

  it("DeepSeek: cache hits reported as prompt_cache_hit_tokens are priced as cache reads", async () => {
    // DeepSeek's prices depend on the time of day (half price 16:30–00:30 UTC): price a call at 10:00 UTC.
    vi.useFakeTimers({ toFake: ["Date"], now: new Date("2026-12-01T10:00:00Z") });
    try {
      // 400 × 0.27 + 600 × 0.07 + 100 × 1.10 = $0.000108 + $0.000042 + $0.00011 = $0.00026
      fake.server.script({ usage: { promptTokens: 1000, completionTokens: 100 }, extraUsage: { prompt_cache_hit_tokens: 600, prompt_cache_miss_tokens: 400 } });
      const cost = costOf(await at("https://api.deepseek.com", { model: "deepseek-chat" }).invoke("hi"));
      expect(cost).toMatchObject({ nanoUsd: 260_000, provider: "deepseek" });
    } finally {
      vi.useRealTimers();
    }
  });

  it("DeepSeek off-peak (16:30–00:30 UTC): the same call at half price, picked per call", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: new Date("2026-12-01T17:00:00Z") });
    try {
      fake.server.script({ usage: { promptTokens: 1000, completionTokens: 100 }, extraUsage: { prompt_cache_hit_tokens: 600, prompt_cache_miss_tokens: 400 } });
      const cost = costOf(await at("https://api.deepseek.com", { model: "deepseek-chat" }).invoke("hi"));
      expect(cost).toMatchObject({ nanoUsd: 130_000, provider: "deepseek" });
    } finally {
      vi.useRealTimers();
    }
  });

  it("a model on a provider's URL that the provider doesn't price is an error at construction", () => {
    expect(() => at("https://api.groq.com/openai/v1", { model: "gpt-4o-mini" })).toThrow(/No price is known for model "gpt-4o-mini" \(provider "groq"\)/);
  });

  it("`provider` names the table for a proxy on your own host", async () => {
    fake.server.script({ usage: { promptTokens: 1000, completionTokens: 500 } });
    const model = new MeteredChatModel({ model: "llama-3.3-70b-versatile", provider: "groq", apiKey: "t", maxRetries: 0, configuration: { baseURL: fake.server.url }, budget: false });
    expect(costOf(await model.invoke("hi"))).toMatchObject({ nanoUsd: 985_000, provider: "groq" });
  });

  it("meter(new ChatOpenAI(...)) takes the provider from the base URL too", async () => {
    fake.server.script({ usage: { promptTokens: 1000, completionTokens: 500 } });
    const plain = new ChatOpenAI({ model: "llama-3.3-70b-versatile", apiKey: "t", maxRetries: 0, configuration: { baseURL: "https://api.groq.com/openai/v1", fetch: toFake } });
    expect(costOf(await meter(plain, { budget: false }).invoke("hi"))).toMatchObject({ nanoUsd: 985_000, provider: "groq" });
  });
});

describe("a cost the endpoint reports", () => {
  // ours: 1000 × 0.15 + 500 × 0.60 = $0.00045; OpenRouter says $0.0004.
  const openRouter = { usage: { promptTokens: 1000, completionTokens: 500 }, extraUsage: { cost: 0.0004 } };

  it("OpenRouter's usage.cost is kept beside ours; ours counts by default", async () => {
    fake.server.script(openRouter);
    const cost = costOf(await at("https://openrouter.ai/api/v1", { model: "openai/gpt-4o-mini" }).invoke("hi"));
    expect(cost).toMatchObject({ totalUsd: 0.00045, nanoUsd: 450_000, ourUsd: 0.00045, reportedUsd: 0.0004, counted: "ours" });
  });

  it('costSource: "reported" makes the budget count the reported cost; the record keeps both', async () => {
    fake.server.setDefault(openRouter);
    const budget = new BudgetCallbackHandler({ limitUsd: 1 });
    const model = at("https://openrouter.ai/api/v1", { model: "openai/gpt-4o-mini", costSource: "reported", budget: { limitUsd: 1 } });
    await model.invoke("1", { callbacks: [budget] });
    const { message } = await collect(await model.stream("2", { callbacks: [budget] }));
    expect(costOf(message)).toMatchObject({ totalUsd: 0.0004, ourUsd: 0.00045, reportedUsd: 0.0004, counted: "reported" });
    expect(budget.spentUsd).toBe(0.0008);
    expect(budget.records.map((r) => [r.cost.ourUsd, r.cost.reportedUsd])).toEqual([
      [0.00045, 0.0004],
      [0.00045, 0.0004],
    ]);
  });

  it('a model no price covers needs none under costSource: "reported": the report is its cost', async () => {
    // A deployment name nothing prices is refused, saying how to price it; with costSource "reported" it isn't.
    expect(() => at("https://api.groq.com/openai/v1", { model: "my-deployment" })).toThrow(/count that with `costSource: "reported"`/);
    expect(() => at("https://api.groq.com/openai/v1", { model: "my-deployment", costSource: "reported" })).not.toThrow();
    fake.server.setDefault({ ...openRouter, model: "anthropic/claude-mystery-5" });
    const onCost = vi.fn();
    const model = at("https://openrouter.ai/api/v1", { model: "openrouter/auto", costSource: "reported", budget: { limitUsd: 0.001 }, onCost });
    const answer = await model.invoke("hi");
    expect(costOf(answer)).toEqual({
      totalUsd: 0.0004, nanoUsd: 400_000, details: {}, model: "anthropic/claude-mystery-5", provider: "openrouter",
      priceSource: "reported", estimated: false, reportedUsd: 0.0004, counted: "reported",
    });
    expect(onCost.mock.calls[0]?.[0].usage).toMatchObject({ inputTokens: 1000, outputTokens: 500 });
    const { message } = await collect(await model.stream("again"));
    expect(costOf(message)).toMatchObject({ nanoUsd: 400_000, priceSource: "reported" });
  });

  it("with no report either, the call throws, charged what its run had left: the run spends nothing more", async () => {
    fake.server.setDefault({ usage: { promptTokens: 1000, completionTokens: 500 } }); // no usage.cost
    const records: number[] = [];
    const model = at("https://openrouter.ai/api/v1", { model: "openrouter/auto", costSource: "reported", budget: { limitUsd: 0.5 }, onCost: (r) => records.push(r.cost.nanoUsd) });
    const error = await model.invoke("hi").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownModelPriceError);
    expect((error as Error).message).toMatch(/reported no cost for this call .* Price it in USD per 1M tokens: new MeteredChatModel\(\{ model: "openrouter\/auto", prices:/);
    expect(records).toEqual([500_000_000]);
    // In one run: the first call took what was left, so the second is refused before it is sent.
    fake.server.requests.length = 0;
    const run = RunnableLambda.from(async () => {
      await model.invoke("1").catch(() => {});
      return model.invoke("2");
    });
    await expect(run.invoke({})).rejects.toThrow(BudgetExceededError);
    expect(fake.server.requests).toHaveLength(1);
  });

  it("a hard cap needs a price to reserve the worst case: refused at construction, saying so", () => {
    expect(() => at("https://openrouter.ai/api/v1", { model: "openrouter/auto", costSource: "reported", budget: { hardCap: true } })).toThrow(
      /A hard cap reserves each call's worst case before sending it, which needs a price/,
    );
  });

  it("a LiteLLM proxy's x-litellm-response-cost header is read from the response; our tag never reaches it", async () => {
    fake.server.script({ usage: { promptTokens: 1000, completionTokens: 500 }, headers: { [LITELLM_COST_HEADER]: "0.00042" } });
    const model = new MeteredChatModel({ model: "gpt-4o-mini", apiKey: "t", maxRetries: 0, configuration: { baseURL: fake.server.url }, budget: false });
    const cost = costOf(await model.invoke("hi"));
    expect(cost).toMatchObject({ totalUsd: 0.00045, reportedUsd: 0.00042, counted: "ours" });
    expect(Object.keys(fake.server.requests[0]?.headers ?? {}).filter((h) => h.includes("metered"))).toEqual([]);
  });

  it("a user's own fetch still runs, under the header capture", async () => {
    const seen: string[] = [];
    const mine = (input: string | URL | Request, init?: RequestInit) => {
      seen.push(String(input));
      return fetch(input, init);
    };
    fake.server.script({ usage: { promptTokens: 10, completionTokens: 5 }, headers: { [LITELLM_COST_HEADER]: "0.000001" } });
    const model = new MeteredChatModel({ model: "gpt-4o-mini", apiKey: "t", maxRetries: 0, configuration: { baseURL: fake.server.url, fetch: mine }, budget: false });
    expect(costOf(await model.invoke("hi"))?.reportedUsd).toBe(0.000001);
    expect(seen).toHaveLength(1);
  });
});
