/**
 * The one-line swap changes nothing but the cost: ChatOpenAI and MeteredChatModel, side by side on one
 * loopback server, give the same LangSmith params, the same serialized kwargs (the class id aside), the same
 * `usage_metadata` and the same number of stream chunks, with and without usage in the response, on Chat
 * Completions and the Responses API. The only difference is `response_metadata.cost`.
 */
import type { AIMessage, AIMessageChunk, BaseMessage } from "@langchain/core/messages";
import { ChatOpenAI, type ChatOpenAIFields } from "@langchain/openai";
import { describe, expect, it } from "vitest";
import { MeteredChatModel } from "../../src/index.js";
import { collect, costOf, useFakeOpenAI } from "../support/metered.js";

const fake = useFakeOpenAI();

const FIELDS: ChatOpenAIFields[] = [
  { model: "gpt-4o-mini" },
  { model: "gpt-4o", temperature: 0.3, maxTokens: 200, stop: ["\n\n"] },
  { model: "o3-mini", reasoning: { effort: "low" } },
  { model: "gpt-4o-mini", useResponsesApi: true, topP: 0.5 },
  { model: "gpt-4o-mini", streaming: true, streamUsage: false },
];

const pair = (fields: ChatOpenAIFields) => {
  const all = { ...fake.connection(), ...fields };
  return { plain: new ChatOpenAI(all), metered: new MeteredChatModel(all) };
};

describe("what LangChain and LangSmith see of the model", () => {
  it.each(FIELDS)("getLsParams: %o", (fields) => {
    const { plain, metered } = pair(fields);
    expect(metered.getLsParams({} as never)).toEqual(plain.getLsParams({} as never));
    expect(metered.getLsParams({ stop: ["x"] } as never)).toEqual(plain.getLsParams({ stop: ["x"] } as never));
  });

  it.each(FIELDS)("serialized kwargs: %o", (fields) => {
    const { plain, metered } = pair(fields);
    const a = plain.toJSON() as { id: string[]; kwargs: unknown };
    const b = metered.toJSON() as { id: string[]; kwargs: unknown };
    expect(b.kwargs).toEqual(a.kwargs);
    expect(b.id.at(-1)).toBe("MeteredChatModel");
  });

  it("invocation params are ChatOpenAI's", () => {
    for (const fields of FIELDS) {
      const { plain, metered } = pair(fields);
      expect(metered.invocationParams({} as never)).toEqual(plain.invocationParams({} as never));
    }
  });
});

type Api = "chat" | "responses";
const APIS: Api[] = ["chat", "responses"];
const USAGE = [
  ["with usage", { usage: { promptTokens: 12, completionTokens: 7, cachedTokens: 4 } }],
  ["without usage", { usage: null }],
] as const;

async function invokeBoth(api: Api, reply: object): Promise<[AIMessage, AIMessage]> {
  fake.server.script(reply, reply);
  const { plain, metered } = pair({ model: "gpt-4o-mini", useResponsesApi: api === "responses" });
  return [await plain.invoke("hi"), await metered.invoke("hi")];
}

async function streamBoth(api: Api, reply: object): Promise<Array<Awaited<ReturnType<typeof collect>>>> {
  fake.server.script(reply, reply);
  const { plain, metered } = pair({ model: "gpt-4o-mini", useResponsesApi: api === "responses" });
  return [await collect(await plain.stream("hi")), await collect(await metered.stream("hi"))];
}

/** A message without its cost, with the fake's per-request ids (chatcmpl_fake7, msg_fake12) made alike. */
function comparable(message: BaseMessage): unknown {
  const { cost: _cost, ...metadata } = message.response_metadata as Record<string, unknown>;
  const ai = message as AIMessage;
  const shown = { content: ai.content, usage_metadata: ai.usage_metadata, response_metadata: metadata, tool_calls: ai.tool_calls };
  return JSON.parse(JSON.stringify(shown).replace(/_fake\d+/g, "_fake"));
}

describe.each(APIS)("%s: the answer, the same but for its cost", (api) => {
  it.each(USAGE)("invoke, %s", async (_name, reply) => {
    const [plain, metered] = await invokeBoth(api, reply);
    expect(comparable(metered)).toEqual(comparable(plain));
    expect(costOf(plain)).toBeUndefined();
    expect(costOf(metered)?.estimated).toBe(reply.usage === null);
  });

  it.each(USAGE)("stream, %s", async (_name, reply) => {
    const [plain, metered] = await streamBoth(api, reply);
    expect(metered!.chunks).toBe(plain!.chunks);
    expect((metered!.message as AIMessageChunk).usage_metadata).toEqual((plain!.message as AIMessageChunk).usage_metadata);
    expect(metered!.message.content).toEqual(plain!.message.content);
    // The cost rides on the stream's last chunk, and on no other.
    expect({ costChunks: metered!.costChunks, last: metered!.lastHasCost }).toEqual({ costChunks: 1, last: true });
    expect(costOf(metered!.message)?.estimated).toBe(reply.usage === null);
  });
});
