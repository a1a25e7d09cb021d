/**
 * Agents: every AI message a createAgent / createReactAgent run produces carries its own cost.
 * Script: a tool call (100 in + 20 out), then the answer (200 in + 10 out). gpt-4o-mini:
 *   call 1: 100×0.15e-6 + 20×0.6e-6 = 0.000015 + 0.000012 = $0.000027
 *   call 2: 200×0.15e-6 + 10×0.6e-6 = 0.00003 + 0.000006 = $0.000036
 */
import { AIMessage, type BaseMessage, HumanMessage } from "@langchain/core/messages";
import { createReactAgent } from "@langchain/langgraph/prebuilt";
import { createAgent, tool } from "langchain";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { costOf, recorder, useFakeOpenAI } from "../support/metered.js";

const fake = useFakeOpenAI();

const calls: string[] = [];
const getWeather = tool(
  async ({ city }: { city: string }) => {
    calls.push(city);
    return `Sunny in ${city}`;
  },
  { name: "get_weather", description: "Weather for a city", schema: z.object({ city: z.string() }) },
);

function scriptToolRound(): void {
  fake.server.script(
    { toolCalls: [{ name: "get_weather", arguments: { city: "Paris" } }], usage: { promptTokens: 100, completionTokens: 20 } },
    { content: "It is sunny in Paris.", usage: { promptTokens: 200, completionTokens: 10 } },
  );
}

function expectEveryAiMessagePriced(messages: BaseMessage[]): void {
  const ai = messages.filter((m) => AIMessage.isInstance(m));
  expect(ai).toHaveLength(2);
  expect(ai.map((m) => costOf(m)?.nanoUsd)).toEqual([27_000, 36_000]);
  expect(ai.every((m) => costOf(m)?.estimated === false)).toBe(true);
  expect(messages.at(-1)?.text).toBe("It is sunny in Paris.");
}

describe("createAgent (langchain)", () => {
  it("every AI message has a cost; onCost gets one record per model call", async () => {
    const { records, onCost } = recorder();
    calls.length = 0;
    scriptToolRound();
    const agent = createAgent({ model: fake.model({ onCost }), tools: [getWeather] });
    const result = await agent.invoke({ messages: [new HumanMessage("Weather in Paris?")] });
    expect(calls).toEqual(["Paris"]);
    expectEveryAiMessagePriced(result.messages);
    expect(records.map((r) => r.cost.nanoUsd)).toEqual([27_000, 36_000]);
    // Each call has an id of its own; LangChain run ids come with callbacks (none are attached here).
    expect(new Set(records.map((r) => r.callId)).size).toBe(2);
    expect(fake.server.requests).toHaveLength(2);
  });
});

describe("createReactAgent (@langchain/langgraph/prebuilt)", () => {
  it("every AI message has a cost; onCost gets one record per model call", async () => {
    const { records, onCost } = recorder();
    calls.length = 0;
    scriptToolRound();
    const agent = createReactAgent({ llm: fake.model({ onCost }), tools: [getWeather] });
    const result = await agent.invoke({ messages: [new HumanMessage("Weather in Paris?")] });
    expect(calls).toEqual(["Paris"]);
    expectEveryAiMessagePriced(result.messages);
    expect(records.map((r) => r.cost.nanoUsd)).toEqual([27_000, 36_000]);
  });

  it("streamed agent runs are priced too", async () => {
    scriptToolRound();
    const agent = createReactAgent({ llm: fake.model(), tools: [getWeather] });
    let last: BaseMessage[] = [];
    for await (const state of await agent.stream({ messages: [new HumanMessage("Weather in Paris?")] }, { streamMode: "values" })) {
      last = state.messages;
    }
    expectEveryAiMessagePriced(last);
  });
});
