/**
 * Serialization round-trips: `toJSON()` writes a MeteredChatModel (or a `meter()` model) under our namespace
 * with its metering options, and LangChain's `load()` with `meteredImportMap` revives it with every one of
 * them, as the calls it then makes show. A budget's live objects (a store, a sink) fail `load()` by name.
 */
import { ChatAnthropic } from "@langchain/anthropic";
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { load } from "@langchain/core/load";
import { tool } from "@langchain/core/tools";
import { ChatOpenAI } from "@langchain/openai";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { InMemoryBudgetStore, MeteredChatModel, type MeteredChatModelFields, MeteredModel, meter, meteredImportMap } from "../../src/index.js";
import { costOf, useFakeOpenAI } from "../support/metered.js";
import { anthropicModel, useFakeAnthropic } from "../support/providers.js";

const fake = useFakeOpenAI();
const anthropic = useFakeAnthropic();
const SECRETS = { OPENAI_API_KEY: "test" };
const revive = (json: string, importMap: Record<string, unknown> = {}) =>
  load<MeteredChatModel>(json, { optionalImportsMap: meteredImportMap, secretsMap: SECRETS, importMap: importMap as never });

const FIELDS: MeteredChatModelFields = {
  model: "gpt-4o-mini",
  apiKey: "test",
  temperature: 0.2,
  maxRetries: 0,
  prices: { "gpt-4o-mini": { input: 1, output: 4 } },
  costSource: "reported",
  provider: "openai",
  budget: { limitUsd: 0.0015, hardCap: true, holdWaitMs: 50, quotas: [{ key: "tenant:{tenant}", limitUsd: 5, window: "day" }] },
};

describe("MeteredChatModel round-trips through toJSON() and load()", () => {
  it("writes its namespace, class and metering options; load() gives back the same model", async () => {
    const json = JSON.stringify(new MeteredChatModel({ ...FIELDS, configuration: { baseURL: fake.server.url } }));
    const serialized = JSON.parse(json) as { id: string[]; kwargs: Record<string, unknown> };
    expect(serialized.id).toEqual(["langchain_metered", "chat_models", "MeteredChatModel"]);
    expect(serialized.kwargs).toMatchObject({ prices: FIELDS.prices, cost_source: "reported", provider: "openai", budget: FIELDS.budget });
    expect(serialized.kwargs.openai_api_key).toEqual({ lc: 1, type: "secret", id: ["OPENAI_API_KEY"] }); // never the key itself

    const back = await revive(json);
    expect(back).toBeInstanceOf(MeteredChatModel);
    expect(JSON.stringify(back)).toBe(json);
  });

  it("the revived model prices with its prices, under its hard cap and quota", async () => {
    const back = await revive(JSON.stringify(new MeteredChatModel({ ...FIELDS, configuration: { baseURL: fake.server.url } })));
    fake.server.script({ usage: { promptTokens: 100, completionTokens: 50 } });
    const answer = await back.invoke("hi", { metadata: { tenant: "acme" } });
    // 100 × $1/M + 50 × $4/M = $0.0003: the override's price, not genai-prices' ($0.000045).
    expect(costOf(answer)).toMatchObject({ nanoUsd: 300_000, priceSource: "override" });
    // The hard cap (its $0.0015 limit) clamped the request's max tokens to what it could pay for.
    expect(fake.server.requests[0]?.body.max_tokens).toBeLessThan(400);
    // A quota key from the run's metadata is required, as on the original.
    await expect(back.invoke("hi")).rejects.toThrow(/tenant/);
  });

  it("a budget of false, and a downgrade to a model, survive too", async () => {
    const cheap = new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "test", configuration: { baseURL: fake.server.url } });
    const original = new MeteredChatModel({ model: "gpt-4o", apiKey: "test", budget: { limitUsd: 1, downgrade: { atFraction: 0.5, to: cheap } } });
    const back = await revive(JSON.stringify(original), { chat_models__openai: { ChatOpenAI } });
    expect(JSON.stringify(back)).toBe(JSON.stringify(original));
    const unbudgeted = await revive(JSON.stringify(new MeteredChatModel({ model: "gpt-4o-mini", apiKey: "test", budget: false })));
    expect((JSON.parse(JSON.stringify(unbudgeted)) as { kwargs: { budget: unknown } }).kwargs.budget).toBe(false);
  });

  it("a budget's store or metering log isn't serialized: load() fails naming it", async () => {
    const quotas = [{ key: "tenant:{tenant}", limitUsd: 5, window: "day" as const }];
    const json = JSON.stringify(new MeteredChatModel({ model: "gpt-4o-mini", apiKey: "test", budget: { quotas, store: new InMemoryBudgetStore() } }));
    await expect(revive(json)).rejects.toThrow(/budget\.store.*InMemoryBudgetStore at budget\.store: a live object, not serialized/);
    const meter = { write: () => {} };
    const logged = JSON.stringify(new MeteredChatModel({ model: "gpt-4o-mini", apiKey: "test", budget: { meter } }));
    await expect(revive(logged)).rejects.toThrow(/budget\.meter/);
  });

  it("without the import map, load() says so", async () => {
    const json = JSON.stringify(new MeteredChatModel({ model: "gpt-4o-mini", apiKey: "test" }));
    await expect(load(json, { secretsMap: SECRETS })).rejects.toThrow(/Invalid namespace/);
  });
});

describe("a meter() model round-trips too", () => {
  const reviveMetered = (json: string) =>
    load<MeteredModel>(json, {
      optionalImportsMap: meteredImportMap,
      importMap: { chat_models__anthropic: { ChatAnthropic } } as never,
      secretsMap: { ANTHROPIC_API_KEY: "test" },
    });
  const OPTIONS = {
    prices: { "claude-sonnet-4-5": { input: 1, output: 4 } },
    provider: "anthropic",
    budget: { limitUsd: 0.002, hardCap: true, holdWaitMs: 50 },
  };

  it("writes the inner model and the options; load() gives back a metered model with both", async () => {
    const original = meter(anthropicModel(anthropic(), { temperature: 0.3 }), OPTIONS);
    const json = JSON.stringify(original);
    const serialized = JSON.parse(json) as { id: string[]; kwargs: { model: { id: string[] }; options: unknown } };
    expect(serialized.id).toEqual(["langchain_metered", "chat_models", "MeteredModel"]);
    expect(serialized.kwargs.model.id.at(-1)).toBe("ChatAnthropic");
    expect(serialized.kwargs.options).toEqual(OPTIONS);

    const back = await reviveMetered(json);
    expect(back).toBeInstanceOf(MeteredModel);
    expect(back.inner).toBeInstanceOf(ChatAnthropic);
    expect(JSON.stringify(back)).toBe(json);

    anthropic().script({ usage: { input: 100, output: 50 } });
    const answer = await back.invoke("hi");
    // 100 × $1/M + 50 × $4/M = $0.0003, the override's price; the hard cap ($0.002) clamped max_tokens.
    expect(costOf(answer)).toMatchObject({ nanoUsd: 300_000, priceSource: "override", provider: "anthropic" });
    expect(anthropic().requests[0]?.body.max_tokens).toBeLessThan(500);
  });

  it("bound tools come back bound, and no callback or onCost is written", async () => {
    const getWeather = tool(async () => "sunny", { name: "get_weather", description: "Weather", schema: z.object({ city: z.string() }) });
    const onCost = () => {};
    const handler = BaseCallbackHandler.fromMethods({});
    const bound = meter(anthropicModel(anthropic()), { ...OPTIONS, onCost }).bindTools([getWeather]).withConfig({ callbacks: [handler] });
    const json = JSON.stringify(bound);
    expect(json).not.toMatch(/onCost|callbacks/);
    const back = await reviveMetered(json);
    anthropic().script({ usage: { input: 10, output: 5 } });
    await back.invoke("weather in Paris?");
    expect(anthropic().requests[0]?.body.tools).toEqual([expect.objectContaining({ name: "get_weather" })]);
  });

  it("traces still name the run after the inner model", async () => {
    const names: (string | undefined)[] = [];
    const spy = BaseCallbackHandler.fromMethods({
      handleChatModelStart: (_llm, _messages, _runId, _parent, _extra, _tags, _metadata, runName) => void names.push(runName),
    });
    anthropic().script({ usage: { input: 10, output: 5 } });
    await meter(anthropicModel(anthropic()), { budget: false }).invoke("hi", { callbacks: [spy] });
    anthropic().script({ usage: { input: 10, output: 5 } });
    await meter(anthropicModel(anthropic()), { budget: false }).invoke("hi", { callbacks: [spy], runName: "mine" });
    expect(names).toEqual(["ChatAnthropic", "mine"]);
  });
});
