/**
 * Metering survives LangChain's composition: bindTools, withStructuredOutput and withConfig.
 * gpt-4o-mini: 100 in + 20 out = 100×0.15e-6 + 20×0.6e-6 = 0.000015 + 0.000012 = $0.000027.
 */
import { tool } from "@langchain/core/tools";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { MeteredChatModel } from "../../src/index.js";
import { costOf, recorder, useFakeOpenAI } from "../support/metered.js";

const fake = useFakeOpenAI();

const getWeather = tool(async ({ city }: { city: string }) => `Sunny in ${city}`, {
  name: "get_weather",
  description: "Weather for a city",
  schema: z.object({ city: z.string() }),
});

describe("bindTools", () => {
  it("returns a MeteredChatModel whose tool-call replies are priced", async () => {
    const { records, onCost } = recorder();
    const bound = fake.model({ onCost }).bindTools([getWeather]);
    expect(bound).toBeInstanceOf(MeteredChatModel);
    fake.server.script({ toolCalls: [{ name: "get_weather", arguments: { city: "Paris" } }], usage: { promptTokens: 100, completionTokens: 20 } });
    const message = await bound.invoke("weather in Paris?");
    expect(fake.server.requests[0]?.body.tools?.[0]?.function?.name).toBe("get_weather");
    expect(message.tool_calls?.[0]).toMatchObject({ name: "get_weather", args: { city: "Paris" } });
    expect(costOf(message)?.nanoUsd).toBe(27_000);
    expect(records).toHaveLength(1);
  });

  it("keeps prices overrides", async () => {
    const bound = fake.model({ model: "my-model", prices: { "my-model": { input: 1, output: 2 } } }).bindTools([getWeather]);
    fake.server.script({ usage: { promptTokens: 100, completionTokens: 20 } });
    // 100×1e-6 + 20×2e-6 = 0.0001 + 0.00004 = $0.00014
    expect(costOf(await bound.invoke("hi"))).toMatchObject({ nanoUsd: 140_000, priceSource: "override" });
  });
});

describe("withStructuredOutput", () => {
  const schema = z.object({ name: z.string(), age: z.number().int() });

  it("includeRaw: the raw message has the cost", async () => {
    fake.server.script({ usage: { promptTokens: 100, completionTokens: 20 } });
    const result = await fake.model().withStructuredOutput(schema, { includeRaw: true }).invoke("extract");
    expect(result.parsed).toEqual({ name: "x", age: 1 });
    expect(costOf(result.raw)?.nanoUsd).toBe(27_000);
  });

  it("function calling: the raw message has the cost", async () => {
    fake.server.script({ toolCalls: [{ name: "extract", arguments: { name: "Ann", age: 3 } }], usage: { promptTokens: 100, completionTokens: 20 } });
    const result = await fake.model().withStructuredOutput(schema, { name: "extract", method: "functionCalling", includeRaw: true }).invoke("x");
    expect(result.parsed).toEqual({ name: "Ann", age: 3 });
    expect(costOf(result.raw)?.nanoUsd).toBe(27_000);
  });

  it("without includeRaw the call is still reported to onCost", async () => {
    const { records, onCost } = recorder();
    fake.server.script({ usage: { promptTokens: 100, completionTokens: 20 } });
    const parsed = await fake.model({ onCost }).withStructuredOutput(schema).invoke("extract");
    expect(parsed).toEqual({ name: "x", age: 1 });
    expect(records.map((r) => r.cost.nanoUsd)).toEqual([27_000]);
  });
});

describe("withConfig", () => {
  it("returns a MeteredChatModel with the config and metering", async () => {
    const { records, onCost } = recorder();
    const configured = fake.model({ onCost }).withConfig({ stop: ["END"] });
    expect(configured).toBeInstanceOf(MeteredChatModel);
    fake.server.script({ usage: { promptTokens: 100, completionTokens: 20 } });
    const message = await configured.invoke("hi");
    expect(fake.server.requests[0]?.body.stop).toEqual(["END"]);
    expect(costOf(message)?.nanoUsd).toBe(27_000);
    expect(records).toHaveLength(1);
  });

  it("chains: bindTools then withConfig", async () => {
    const chained = fake.model().bindTools([getWeather]).withConfig({ tags: ["t"] });
    fake.server.script({ usage: { promptTokens: 100, completionTokens: 20 } });
    expect(costOf(await chained.invoke("hi"))?.nanoUsd).toBe(27_000);
    expect(fake.server.requests[0]?.body.tools).toHaveLength(1);
  });
});
