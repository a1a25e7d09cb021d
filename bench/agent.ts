/**
 * `npm run bench -- agent`: a `createAgent` run (langchain's) with one tool round, i.e. two model calls: the
 * first answers with a tool call, the tool runs, the second answers in text. Three variants, interleaved
 * (bench/metering.ts `interleave`), against the loopback fake OpenAI in another process:
 *
 *   (a) a plain ChatOpenAI agent;
 *   (b) the same with one no-op LangChain callback handler in the run's callbacks;
 *   (c) a MeteredChatModel agent (the one-line swap): one $2 run budget shared by both calls, found through
 *       the run scope, no callbacks.
 *
 * Issue 10's bar: the library's own CPU per model call, (c − a) / 2, at most 60 µs more than what one no-op
 * handler costs, (b − a) / 2. Figures are per model call (per run / 2).
 */
import type { AIMessage, BaseMessage } from "@langchain/core/messages";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { RunnableConfig } from "@langchain/core/runnables";
import { ChatOpenAI } from "@langchain/openai";
import { createAgent, tool } from "langchain";
import { z } from "zod";
import type { CostRecord } from "../src/index.js";
import { startFakeServer } from "./fake-server-process.js";
import { assert, section } from "./harness.js";
import { NoopHandler } from "./metering-breakdown.js";
import { AS_OPENAI, checkCost, checkUsage, costOf, interleave, loadLibrary, MODEL, REPLY_TEXT, report, SCRIPTED_USAGE } from "./metering.js";

/** The tool call the fake server answers an agent's first request with (bench/fake-server-process.ts `toolRound`). */
export const AGENT_TOOL_CALL = { name: "get_weather", arguments: { city: "Paris" } };

const getWeather = tool(async ({ city }: { city: string }) => `Sunny in ${city}, 21 °C.`, {
  name: AGENT_TOOL_CALL.name,
  description: "The current weather in a city.",
  schema: z.object({ city: z.string() }),
});

export function makeAgent(model: BaseChatModel) {
  return createAgent({ model, tools: [getWeather] });
}

/** One agent run; checks its shape (question, tool call, tool result, answer) and returns its messages. */
export async function runAgent(agent: ReturnType<typeof makeAgent>, config?: RunnableConfig): Promise<BaseMessage[]> {
  const { messages } = (await agent.invoke({ messages: [{ role: "user", content: "What is the weather in Paris?" }] }, config)) as {
    messages: BaseMessage[];
  };
  assert(messages.map((m) => m.getType()).join() === "human,ai,tool,ai", `one tool round (got ${messages.map((m) => m.getType()).join()})`);
  return messages;
}

section("agent", async () => {
  const lib = await loadLibrary();
  const server = await startFakeServer({ content: REPLY_TEXT, usage: SCRIPTED_USAGE }, { toolRound: AGENT_TOOL_CALL });
  try {
    const fields = { model: MODEL, apiKey: "test", maxRetries: 0, configuration: { baseURL: server.url } };
    const plainAgent = makeAgent(new ChatOpenAI(fields));
    const meteredAgent = makeAgent(new lib.MeteredChatModel({ ...fields, ...AS_OPENAI }));

    // The mechanism, checked once on an identical model that reports its records: both calls of a run share
    // one budget (the second record's spend is both calls'), and the next run starts from $0.
    const records: CostRecord[] = [];
    const checkAgent = makeAgent(new lib.MeteredChatModel({ ...fields, ...AS_OPENAI, onCost: (r) => records.push(r) }));
    await runAgent(checkAgent);
    await runAgent(checkAgent);
    const spent = records.map((r) => r.budget?.spentUsd);
    assert(spent.join() === "0.000255,0.00051,0.000255,0.00051", `two runs, one budget each shared by its two calls (spent: ${spent.join()})`);
    assert(records.every((r) => r.budget?.limitUsd === 2), "the run budget is the default $2");

    const aiMessages = (messages: BaseMessage[]) => messages.filter((m): m is AIMessage => m.getType() === "ai");
    await interleave(
      "createAgent run, one tool round (per model call)",
      [
        {
          label: "(a) ChatOpenAI agent",
          op: () => runAgent(plainAgent),
          check: (messages: BaseMessage[]) => {
            for (const m of aiMessages(messages)) {
              checkUsage(m);
              assert(costOf(m) === undefined, "a plain agent's answers carry no cost");
            }
          },
        },
        {
          label: "(b) ChatOpenAI agent + one no-op handler",
          op: () => runAgent(plainAgent, { callbacks: [new NoopHandler()] }),
          check: (messages: BaseMessage[]) => aiMessages(messages).forEach((m) => checkUsage(m)),
        },
        {
          label: "(c) MeteredChatModel agent",
          op: () => runAgent(meteredAgent),
          check: (messages: BaseMessage[]) => {
            for (const m of aiMessages(messages)) {
              checkUsage(m);
              checkCost(costOf(m), lib);
            }
          },
        },
      ],
      { blocks: 60, blockSize: 4, warmup: 30, callsPerOp: 2, allocBlocks: 6 },
    );
  } finally {
    await server.close();
  }
  report("agent", {}, ["(b) ChatOpenAI agent + one no-op handler"]);
});
