/**
 * streamEvents: the default (content-block protocol, awaitable for the final message) and v2 (callback
 * events, `on_chat_model_end`). Figures by hand: gpt-4o-mini 1000 in + 500 out = 1000×0.15e-6 + 500×0.6e-6 = $0.00045.
 */
import type { ChatModelStreamEvent } from "@langchain/core/language_models/event";
import type { AIMessageChunk } from "@langchain/core/messages";
import { describe, expect, it } from "vitest";
import type { Cost } from "../../src/index.js";
import { costOf, recorder, useFakeOpenAI } from "../support/metered.js";

const fake = useFakeOpenAI();

describe("streamEvents() default protocol", () => {
  it("awaiting the stream gives a message with the cost", async () => {
    const { records, onCost } = recorder();
    fake.server.script({ model: "gpt-4o-mini-2024-07-18", usage: { promptTokens: 1000, completionTokens: 500 } });
    const stream = fake.model({ onCost }).streamEvents("hi");
    const message = await stream;
    expect(message.text).toBe("Hello from the fake server.");
    expect(costOf(message)).toMatchObject({ nanoUsd: 450_000, totalUsd: 0.00045, model: "gpt-4o-mini-2024-07-18", estimated: false });
    expect(message.usage_metadata).toMatchObject({ input_tokens: 1000, output_tokens: 500 });
    expect(records.map((r) => r.cost.nanoUsd)).toEqual([450_000]);
  });

  it("the message-finish event carries the cost, and no other event does", async () => {
    fake.server.script({ usage: { promptTokens: 1000, completionTokens: 500, cachedTokens: 200 } });
    const events: ChatModelStreamEvent[] = [];
    for await (const event of fake.model().streamEvents("hi")) events.push(event);
    const costOfEvent = (e: ChatModelStreamEvent) => ("responseMetadata" in e ? (e.responseMetadata as { cost?: Cost } | undefined)?.cost : undefined);
    const withCost = events.filter((e) => costOfEvent(e) !== undefined);
    expect(withCost.map((e) => e.event)).toEqual(["message-finish"]);
    // 800×0.15e-6 + 200×0.075e-6 + 500×0.6e-6 = $0.000435
    expect(costOfEvent(withCost[0]!)?.nanoUsd).toBe(435_000);
  });

  it("works on the Responses API too", async () => {
    fake.server.script({ usage: { promptTokens: 1000, completionTokens: 500 } });
    const message = await fake.model({ useResponsesApi: true }).streamEvents("hi");
    expect(fake.server.requests[0]?.api).toBe("responses");
    expect(costOf(message)?.nanoUsd).toBe(450_000);
  });
});

describe('streamEvents(input, { version: "v2" })', () => {
  it("on_chat_model_end's output has the cost; one stream chunk carries it", async () => {
    const { records, onCost } = recorder();
    fake.server.script({ usage: { promptTokens: 1000, completionTokens: 500 } });
    let end: AIMessageChunk | undefined;
    let costChunks = 0;
    for await (const event of fake.model({ onCost }).streamEvents("hi", { version: "v2" })) {
      if (event.event === "on_chat_model_stream" && costOf(event.data.chunk as AIMessageChunk)) costChunks++;
      if (event.event === "on_chat_model_end") end = event.data.output as AIMessageChunk;
    }
    expect(costOf(end)).toMatchObject({ nanoUsd: 450_000, totalUsd: 0.00045, estimated: false });
    expect(end?.usage_metadata).toMatchObject({ input_tokens: 1000, output_tokens: 500 });
    expect(costChunks).toBe(1);
    expect(records).toHaveLength(1);
    expect(records[0]?.runId).toEqual(expect.any(String));
  });
});
