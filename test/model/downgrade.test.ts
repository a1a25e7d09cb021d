/**
 * Budget-aware downgrade: `budget: { limitUsd, downgrade: { atFraction, to } }`. Once the run has spent
 * `atFraction` of its limit, its later calls go to `to`: a model name on the same API, or any chat model
 * (a hot swap to another provider), with bound tools, tool choice and structured output carried over.
 *
 * Prices, USD per 1M tokens: gpt-4o in 2.50 out 10; gpt-4o-mini in 0.15 out 0.60;
 * claude-haiku-4-5 in 1 out 5; claude-sonnet-4-5 in 3 out 15; gemini-2.5-pro in 1.25 out 10.
 *   gpt-4o, 1000 in + 100 out:  $0.0025 + $0.001  = $0.0035
 *   gpt-4o-mini, same:          $0.00015 + $0.00006 = $0.00021
 *   claude-haiku-4-5, same:     $0.001 + $0.0005  = $0.0015
 */
import { HumanMessage } from "@langchain/core/messages";
import { tool } from "@langchain/core/tools";
import { createAgent } from "langchain";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { BudgetCallbackHandler, type CostRecord, meter, MeteredChatModel, type MeteredChatModelFields, UnknownModelPriceError } from "../../src/index.js";
import { costOf, recorder, useFakeOpenAI } from "../support/metered.js";
import { anthropicModel, geminiModel, useFakeAnthropic, useFakeGemini } from "../support/providers.js";

const openai = useFakeOpenAI();
const anthropic = useFakeAnthropic();
const gemini = useFakeGemini();

const USAGE = { promptTokens: 1000, completionTokens: 100 };
const getWeather = tool(async ({ city }: { city: string }) => `Sunny in ${city}`, {
  name: "get_weather",
  description: "Weather for a city",
  schema: z.object({ city: z.string() }),
});

const gpt4o = (fields: Partial<MeteredChatModelFields>) => openai.model({ model: "gpt-4o", ...fields });
const haiku = () => anthropicModel(anthropic(), { model: "claude-haiku-4-5" });

/** Three calls in one run (one explicit budget of $0.01), downgraded from half of it: $0.0035, $0.0035, then `to`. */
async function threeCalls(model: { invoke(input: string, options: object): Promise<unknown> }, budget = new BudgetCallbackHandler({ limitUsd: 0.01 })) {
  for (const input of ["1", "2", "3"]) await model.invoke(input, { callbacks: [budget] });
  return budget;
}

describe("downgrade to a model name on the same API", () => {
  it("from half the budget, calls go to gpt-4o-mini; the records name the model that served each", async () => {
    openai.server.setDefault({ usage: USAGE });
    const model = gpt4o({ budget: { limitUsd: 0.01, downgrade: { atFraction: 0.5, to: "gpt-4o-mini" } } });
    const budget = await threeCalls(model);
    expect(openai.server.requests.map((r) => r.body.model)).toEqual(["gpt-4o", "gpt-4o", "gpt-4o-mini"]);
    expect(budget.records.map((r) => [r.model, r.cost.nanoUsd, r.cost.downgradedFrom])).toEqual([
      ["gpt-4o", 3_500_000, undefined],
      ["gpt-4o", 3_500_000, undefined],
      ["gpt-4o-mini", 210_000, "gpt-4o"],
    ]);
    expect(budget.spentUsd).toBe(0.00721);
  });

  it("bound tools and tool choice go with the call", async () => {
    openai.server.setDefault({ usage: USAGE, toolCalls: [{ name: "get_weather", arguments: { city: "Paris" } }] });
    const model = gpt4o({ budget: { limitUsd: 0.01, downgrade: { atFraction: 0.5, to: "gpt-4o-mini" } } }).bindTools([getWeather], { tool_choice: "required" });
    await threeCalls(model);
    const last = openai.server.requests[2]?.body;
    expect(last?.model).toBe("gpt-4o-mini");
    expect(last?.tools?.[0]?.function?.name).toBe("get_weather");
    expect(last?.tool_choice).toBe("required");
  });

  it("a meter()ed ChatAnthropic downgrades by name to another Claude model", async () => {
    anthropic().setDefault({ usage: { input: 1000, output: 100 } }); // sonnet: $0.003 + $0.0015 = $0.0045
    const model = meter(anthropicModel(anthropic()), { budget: { limitUsd: 0.012, downgrade: { atFraction: 0.5, to: "claude-haiku-4-5" } } });
    const budget = await threeCalls(model, new BudgetCallbackHandler({ limitUsd: 0.012 }));
    expect(anthropic().requests.map((r) => r.body.model)).toEqual(["claude-sonnet-4-5", "claude-sonnet-4-5", "claude-haiku-4-5"]);
    expect(budget.records.map((r) => r.cost.nanoUsd)).toEqual([4_500_000, 4_500_000, 1_500_000]);
  });

  it("no downgrade below the fraction, and none at all without a limit", async () => {
    openai.server.setDefault({ usage: USAGE });
    await threeCalls(gpt4o({ budget: { limitUsd: 0.01, downgrade: { atFraction: 0.9, to: "gpt-4o-mini" } } }), new BudgetCallbackHandler({ limitUsd: 1 }));
    expect(openai.server.requests.map((r) => r.body.model)).toEqual(["gpt-4o", "gpt-4o", "gpt-4o"]);
  });
});

describe("hot swap to another provider's model", () => {
  it("OpenAI → Anthropic: tools re-bound in Anthropic's format, OpenAI's 'required' as Anthropic's 'any'", async () => {
    openai.server.setDefault({ usage: USAGE, toolCalls: [{ name: "get_weather", arguments: { city: "Paris" } }] });
    anthropic().setDefault({ usage: { input: 1000, output: 100 }, toolCalls: [{ name: "get_weather", input: { city: "Rome" } }] });
    const model = gpt4o({ budget: { limitUsd: 0.01, downgrade: { atFraction: 0.5, to: haiku() } } }).bindTools([getWeather], { tool_choice: "required" });
    const budget = new BudgetCallbackHandler({ limitUsd: 0.01 });
    const replies = [];
    for (const input of ["1", "2", "3"]) replies.push(await model.invoke(input, { callbacks: [budget] }));
    const sent = anthropic().requests[0]?.body;
    expect(sent?.model).toBe("claude-haiku-4-5");
    expect(sent?.tools?.[0]).toMatchObject({ name: "get_weather", input_schema: { type: "object", properties: { city: { type: "string" } } } });
    expect(sent?.tool_choice).toEqual({ type: "any" });
    expect(replies[2]?.tool_calls?.[0]).toMatchObject({ name: "get_weather", args: { city: "Rome" } });
    expect(costOf(replies[2])).toMatchObject({ model: "claude-haiku-4-5-20250929", provider: "anthropic", nanoUsd: 1_500_000, downgradedFrom: "gpt-4o" });
  });

  it("structured output by function calling: the Anthropic answer parses with OpenAI's parser", async () => {
    openai.server.setDefault({ usage: USAGE, toolCalls: [{ name: "person", arguments: { name: "Ann" } }] });
    anthropic().setDefault({ usage: { input: 1000, output: 100 }, toolCalls: [{ name: "person", input: { name: "Bob" } }] });
    const model = gpt4o({ budget: { limitUsd: 0.01, downgrade: { atFraction: 0.5, to: haiku() } } });
    const structured = model.withStructuredOutput(z.object({ name: z.string() }), { name: "person", method: "functionCalling" });
    const budget = new BudgetCallbackHandler({ limitUsd: 0.01 });
    const results = [];
    for (const input of ["1", "2", "3"]) results.push(await structured.invoke(input, { callbacks: [budget] }));
    expect(results).toEqual([{ name: "Ann" }, { name: "Ann" }, { name: "Bob" }]);
    expect(anthropic().requests[0]?.body.tool_choice).toEqual({ type: "tool", name: "person" });
  });

  it("structured output by JSON schema: the target gets its own JSON-schema settings", async () => {
    openai.server.setDefault({ usage: USAGE, content: '{"name":"Ann"}' });
    anthropic().setDefault({ usage: { input: 1000, output: 100 }, content: '{"name":"Bob"}' });
    const model = gpt4o({ budget: { limitUsd: 0.01, downgrade: { atFraction: 0.5, to: haiku() } } });
    const structured = model.withStructuredOutput(z.object({ name: z.string() }), { name: "person", method: "jsonSchema" });
    const budget = new BudgetCallbackHandler({ limitUsd: 0.01 });
    const results = [];
    for (const input of ["1", "2", "3"]) results.push(await structured.invoke(input, { callbacks: [budget] }));
    expect(results).toEqual([{ name: "Ann" }, { name: "Ann" }, { name: "Bob" }]);
    expect(anthropic().requests[0]?.body.output_config?.format).toMatchObject({ type: "json_schema", schema: { type: "object" } });
    expect(anthropic().requests[0]?.body.response_format).toBeUndefined();
  });

  it("Anthropic → Gemini: tools as Gemini function declarations, streamed", async () => {
    anthropic().setDefault({ usage: { input: 1000, output: 100 } }); // haiku $0.0015
    gemini().setDefault({ usage: { prompt: 1000, candidates: 100 } }); // $0.00125 + $0.001 = $0.00225
    // After the first call, $0.0015 of $0.004 is spent: past a quarter, so the second goes to Gemini.
    const model = meter(haiku(), { budget: { limitUsd: 0.004, downgrade: { atFraction: 0.25, to: geminiModel(gemini()) } } }).bindTools([getWeather]);
    const budget = new BudgetCallbackHandler({ limitUsd: 0.004 });
    for (const input of ["1", "2"]) for await (const _ of await model.stream(input, { callbacks: [budget] }));
    expect(gemini().requests[0]?.body.tools?.[0]?.functionDeclarations?.[0]?.name).toBe("get_weather");
    expect(budget.records.map((r) => [r.model, r.cost.nanoUsd])).toEqual([
      ["claude-haiku-4-5-20250929", 1_500_000],
      ["gemini-2.5-pro", 2_250_000],
    ]);
  });
});

describe("createAgent: a run downgrades mid-run from OpenAI to Anthropic and stays within its budget", () => {
  it("the per-run budget's spend triggers the swap; every call is priced by the model that served it", async () => {
    // gpt-4o keeps calling the tool ($0.0035 a call). From $0.007 (half of $0.014) claude-haiku-4-5 serves:
    // a tool call ($0.0015), then the answer (1000 × 1 + 50 × 5 = $0.00125). Total $0.01175 ≤ $0.014.
    openai.server.setDefault({ usage: USAGE, toolCalls: [{ name: "get_weather", arguments: { city: "Paris" } }] });
    anthropic().script(
      { usage: { input: 1000, output: 100 }, toolCalls: [{ name: "get_weather", input: { city: "Rome" } }] },
      { usage: { input: 1000, output: 50 }, content: "Sunny in Paris and Rome." },
    );
    const { records, onCost } = recorder();
    const model = gpt4o({ onCost, budget: { limitUsd: 0.014, downgrade: { atFraction: 0.5, to: haiku() } } });
    const agent = createAgent({ model, tools: [getWeather] });
    const result = await agent.invoke({ messages: [new HumanMessage("Weather in Paris and Rome?")] });

    expect(result.messages.at(-1)?.text).toBe("Sunny in Paris and Rome.");
    expect(records.map((r: CostRecord) => [r.model, r.cost.nanoUsd])).toEqual([
      ["gpt-4o", 3_500_000],
      ["gpt-4o", 3_500_000],
      ["claude-haiku-4-5-20250929", 1_500_000],
      ["claude-haiku-4-5-20250929", 1_250_000],
    ]);
    const spent = records.reduce((sum, r) => sum + r.cost.nanoUsd, 0);
    expect(spent).toBe(9_750_000);
    expect(spent).toBeLessThanOrEqual(14_000_000);
    // The Anthropic calls carry the OpenAI turns: tool calls and results converted by ChatAnthropic.
    const history = anthropic().requests[0]?.body.messages as Array<{ role: string; content: unknown }>;
    expect(history.map((m) => m.role)).toEqual(["user", "assistant", "user", "assistant", "user"]);
    expect(anthropic().requests[0]?.body.tools?.[0]?.name).toBe("get_weather");
  });
});

describe("validation", () => {
  it.each([
    [{ atFraction: 1.5, to: "gpt-4o-mini" }, /atFraction must be a number from 0 to 1/],
    [{ atFraction: 0.5, to: 42 }, /downgrade.to must be a model name or a LangChain chat model, got 42/],
    [{ atFraction: 0.5, to: {} }, /got an object/],
  ])("%o is refused at construction", (downgrade, message) => {
    expect(() => gpt4o({ budget: { limitUsd: 1, downgrade: downgrade as never } })).toThrow(message);
  });

  it("a `to` with no known price fails at construction, not mid-run", () => {
    expect(() => gpt4o({ budget: { limitUsd: 1, downgrade: { atFraction: 0.5, to: "gpt-mystery" } } })).toThrow(UnknownModelPriceError);
    expect(() => gpt4o({ budget: { limitUsd: 1, downgrade: { atFraction: 0.5, to: anthropicModel(anthropic(), { model: "claude-mystery" }) } } })).toThrow(UnknownModelPriceError);
  });

  it("bindTools copies share one resolved target", () => {
    const model = gpt4o({ budget: { limitUsd: 1, downgrade: { atFraction: 0.5, to: "gpt-4o-mini" } } });
    expect(model.bindTools([getWeather])).toBeInstanceOf(MeteredChatModel);
  });
});
