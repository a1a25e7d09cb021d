/**
 * A response without usage (a proxy that drops it, `streamUsage: false`): the call is estimated locally and
 * marked `estimated: true`, with the estimated usage on the cost (`estimatedUsage`). The message itself is
 * what a plain ChatOpenAI gives: its `usage_metadata` as the provider reported it, and as many chunks.
 *
 * The estimate for invoke("hi") → "Hello from the fake server." with o200k_base (gpt-4o-mini's encoding):
 *   input  = 3 (reply priming) + 3 (per message) + 1 ("human") + 1 ("hi") = 8 tokens
 *   output = 6 tokens ("Hello from the fake server.")
 *   cost   = 8×0.15e-6 + 6×0.6e-6 = 0.0000012 + 0.0000036 = $0.0000048 = 4800 nano-USD
 */
import type { AIMessage, BaseMessage } from "@langchain/core/messages";
import { ChatOpenAI } from "@langchain/openai";
import { describe, expect, it } from "vitest";
import type { MeteredChatModelFields } from "../../src/index.js";
import { detailsInNano } from "../support/cost.js";
import { collect, costOf, recorder, useFakeOpenAI } from "../support/metered.js";

const fake = useFakeOpenAI();
const ESTIMATE = { input_tokens: 8, output_tokens: 6, total_tokens: 14 };

const paths: Array<[string, Partial<MeteredChatModelFields>, Mode]> = [
  ["invoke", {}, "invoke"],
  ["stream", {}, "stream"],
  ["streaming: true + invoke", { streaming: true }, "invoke"],
  ["Responses API invoke", { useResponsesApi: true }, "invoke"],
  ["Responses API stream", { useResponsesApi: true }, "stream"],
  ["streamEvents()", {}, "streamEvents"],
];

type Mode = "invoke" | "stream" | "streamEvents";

/** The message a model answers "hi" with, and how many chunks its stream had (undefined for invoke). */
async function answer(model: ChatOpenAI, mode: Mode): Promise<{ message: BaseMessage; chunks?: number }> {
  if (mode === "invoke") return { message: await model.invoke("hi") };
  if (mode === "streamEvents") {
    let end: BaseMessage | undefined;
    for await (const event of model.streamEvents("hi", { version: "v2" })) if (event.event === "on_chat_model_end") end = event.data.output as BaseMessage;
    return { message: end! };
  }
  const { message, chunks } = await collect(await model.stream("hi"));
  return { message, chunks };
}

describe("usage: null → estimated, on the cost only", () => {
  it.each(paths)("%s", async (_name, fields, mode) => {
    const { records, onCost } = recorder();
    fake.server.script({ usage: null }, { usage: null });
    const plainModel = new ChatOpenAI({ model: "gpt-4o-mini", ...fake.connection(), ...fields });
    // A streaming invoke counts tokens for llmOutput with LangChain's tokenizer, which downloads its ranks: offline,
    // count nothing (the message is made from the chunks alone).
    const { completions, responses } = plainModel as unknown as Record<"completions" | "responses", ChatOpenAI>;
    for (const target of [plainModel, completions, responses]) target.getNumTokens = async () => 0;
    const plain = await answer(plainModel, mode);
    const metered = await answer(fake.model({ ...fields, onCost }), mode);

    const cost = costOf(metered.message);
    expect(cost).toMatchObject({ estimated: true, estimate: "no-usage", nanoUsd: 4800, totalUsd: 0.0000048, model: "gpt-4o-mini" });
    expect(cost?.estimatedUsage).toEqual(ESTIMATE);
    expect(detailsInNano(cost!)).toEqual({ input: 1200, output: 3600 });
    // Exactly what ChatOpenAI gives, but for the cost.
    expect((metered.message as AIMessage).usage_metadata).toEqual((plain.message as AIMessage).usage_metadata);
    expect(metered.chunks).toBe(plain.chunks);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ estimated: true, usage: { inputTokens: 8, outputTokens: 6 } });
  });
});

describe("streamUsage: false", () => {
  it("the stream has ChatOpenAI's chunks, the cost on the last one", async () => {
    const plain = await collect(await new ChatOpenAI({ model: "gpt-4o-mini", ...fake.connection(), streamUsage: false }).stream("hi"));
    const metered = await collect(await fake.model({ streamUsage: false }).stream("hi"));
    expect(fake.server.requests[1]?.body.stream_options).toBeUndefined();
    expect(metered.chunks).toBe(plain.chunks);
    expect(metered.costChunks).toBe(1);
    expect(metered.lastHasCost).toBe(true);
    expect(costOf(metered.message)).toMatchObject({ estimated: true, nanoUsd: 4800, estimatedUsage: ESTIMATE });
    expect(metered.message.usage_metadata).toEqual(plain.message.usage_metadata);
  });
});

describe("the estimate follows the conversation", () => {
  it("a longer prompt costs more than a shorter one", async () => {
    fake.server.script({ usage: null }, { usage: null });
    const short = costOf(await fake.model().invoke("hi"));
    const long = costOf(await fake.model().invoke("hi ".repeat(200)));
    expect(long!.nanoUsd).toBeGreaterThan(short!.nanoUsd);
    expect(long!.estimated).toBe(true);
  });
});
