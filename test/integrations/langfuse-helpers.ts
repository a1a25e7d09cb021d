/**
 * Shared set-up for the Langfuse contract tests: the loopback fake OpenAI and Langfuse receiver, an agent
 * script with a tool round per city, and the assertions every generation must pass. Nothing here prices
 * anything: expected figures come from the messages the models returned.
 */
import type { BaseMessage } from "@langchain/core/messages";
import { AIMessage } from "@langchain/core/messages";
import { tool } from "langchain";
import { afterAll, beforeAll, beforeEach, expect } from "vitest";
import { z } from "zod";
import type { Cost } from "../../src/index.js";
import { type LangfuseReceiver, type Observation, startLangfuseReceiver } from "../support/langfuse-receiver.js";
import type { RecordedRequest, ScriptedReply } from "../support/openai-server.js";

export function useLangfuseReceiver(): () => LangfuseReceiver {
  let receiver: LangfuseReceiver | undefined;
  beforeAll(async () => {
    receiver = await startLangfuseReceiver();
  });
  afterAll(async () => receiver?.close());
  beforeEach(() => receiver?.reset());
  return () => {
    if (!receiver) throw new Error("receiver not started");
    return receiver;
  };
}

/** Per city: the tool call's usage, then the answer's. Different figures per city tell the runs apart. */
export const CITY_USAGE: Record<string, [ScriptedReply["usage"], ScriptedReply["usage"]]> = {
  Paris: [{ promptTokens: 100, completionTokens: 20, cachedTokens: 40 }, { promptTokens: 200, completionTokens: 10 }],
  Lyon: [{ promptTokens: 300, completionTokens: 30 }, { promptTokens: 400, completionTokens: 15, reasoningTokens: 5 }],
};

export const getWeather = tool(async ({ city }: { city: string }) => `Sunny in ${city}`, {
  name: "get_weather",
  description: "Weather for a city",
  schema: z.object({ city: z.string() }),
});

/** The fake server plays the model: asks for the weather of the city in the question, then answers. */
export function weatherAgentReply(options: { chunkDelayMs?: number } = {}) {
  return (request: RecordedRequest): ScriptedReply => {
    const messages: Array<{ role: string; content?: unknown }> = request.body.messages ?? [];
    const question = JSON.stringify(messages.find((m) => m.role === "user")?.content ?? "");
    const city = Object.keys(CITY_USAGE).find((c) => question.includes(c)) ?? "Paris";
    const [toolUsage, answerUsage] = CITY_USAGE[city] ?? [];
    const common = { chunkDelayMs: options.chunkDelayMs ?? 0 };
    if (!messages.some((m) => m.role === "tool")) {
      return { ...common, toolCalls: [{ name: "get_weather", arguments: { city } }], usage: toolUsage };
    }
    return { ...common, content: `It is sunny in ${city}.`, usage: answerUsage };
  };
}

export const ask = (city: string) => ({ messages: [{ role: "user", content: `Weather in ${city}?` }] });

export function costOf(message: BaseMessage | undefined): Cost {
  const cost = (message?.response_metadata as { cost?: Cost } | undefined)?.cost;
  if (!cost) throw new Error("message has no cost");
  return cost;
}

export const aiMessages = (messages: BaseMessage[]) => messages.filter((m) => AIMessage.isInstance(m));

/**
 * The contract every generation we report must meet: a cost `total`, cost keys equal to its usage keys,
 * non-negative numbers whose parts sum to the total (to the nano-dollar), and a trace.
 */
export function expectPricedLikeUsage(generation: Observation): void {
  const cost = generation.costDetails;
  expect(cost, `generation ${generation.id} has costDetails`).toBeDefined();
  expect(generation.traceId).toBeTruthy();
  expect(Object.keys(cost ?? {}).sort()).toEqual(Object.keys(generation.usageDetails ?? {}).sort());
  for (const usd of Object.values(cost ?? {})) expect(typeof usd === "number" && usd >= 0).toBe(true);
  const { total = NaN, ...parts } = cost ?? {};
  const nano = (usd: number) => Math.round(usd * 1e9);
  expect(Object.values(parts).reduce((sum, usd) => sum + nano(usd), 0)).toBe(nano(total));
}

/** The root of an observation's tree (its trace's top-level observation). */
export function rootOf(observation: Observation, all: Observation[]): Observation {
  const byId = new Map(all.map((o) => [o.id, o]));
  let current = observation;
  for (let parent = byId.get(current.parentObservationId ?? ""); parent; parent = byId.get(parent.parentObservationId ?? "")) {
    current = parent;
  }
  return current;
}

/** Sorted, for comparing sets of USD amounts. */
export const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
