/**
 * `onCost`: one record per call, tied to the call's LangChain run id.
 */
import type { Serialized } from "@langchain/core/load/serializable";
import type { BaseMessage } from "@langchain/core/messages";
import { describe, expect, it } from "vitest";
import { collect, recorder, useFakeOpenAI } from "../support/metered.js";

const fake = useFakeOpenAI();

/** A callback that notes the run id LangChain gives each chat-model call. */
function runIds(): { ids: string[]; handler: { handleChatModelStart: (llm: Serialized, messages: BaseMessage[][], runId: string) => void } } {
  const ids: string[] = [];
  return { ids, handler: { handleChatModelStart: (_llm, _messages, runId) => void ids.push(runId) } };
}

describe("onCost", () => {
  it("invoke: one record, with the call's run id, usage and cost", async () => {
    const { records, onCost } = recorder();
    const { ids, handler } = runIds();
    fake.server.script({ model: "gpt-4o-mini-2024-07-18", usage: { promptTokens: 1000, completionTokens: 500, cachedTokens: 200 } });
    const before = Date.now();
    const message = await fake.model({ onCost }).invoke("hi", { callbacks: [handler] });
    expect(records).toHaveLength(1);
    const [record] = records;
    expect(ids).toHaveLength(1);
    expect(record?.runId).toBe(ids[0]);
    expect(record).toMatchObject({
      model: "gpt-4o-mini-2024-07-18",
      provider: "openai",
      estimated: false,
      usage: { inputTokens: 1000, cacheReadTokens: 200, outputTokens: 500 },
      // 800×0.15e-6 + 200×0.075e-6 + 500×0.6e-6 = $0.000435
      cost: { nanoUsd: 435_000, totalUsd: 0.000435 },
    });
    expect(record?.cost).toEqual(message.response_metadata.cost);
    expect(record?.at).toBeInstanceOf(Date);
    expect(record!.at.getTime()).toBeGreaterThanOrEqual(before);
  });

  it("two calls, two records with distinct run ids", async () => {
    const { records, onCost } = recorder();
    const { ids, handler } = runIds();
    const model = fake.model({ onCost });
    await model.invoke("a", { callbacks: [handler] });
    await model.invoke("b", { callbacks: [handler] });
    expect(records.map((r) => r.runId)).toEqual(ids);
    expect(new Set(ids).size).toBe(2);
  });

  it("stream: one record, with the stream's run id", async () => {
    const { records, onCost } = recorder();
    const { ids, handler } = runIds();
    fake.server.script({ usage: { promptTokens: 1000, completionTokens: 500 } });
    await collect(await fake.model({ onCost }).stream("hi", { callbacks: [handler] }));
    expect(records).toHaveLength(1);
    expect(records[0]?.runId).toBe(ids[0]);
    // 1000×0.15e-6 + 500×0.6e-6 = $0.00045
    expect(records[0]?.cost.nanoUsd).toBe(450_000);
  });

  it("a call inside a traced chain records its parent run (run ids come from LangChain's callbacks)", async () => {
    const { records, onCost } = recorder();
    const model = fake.model({ onCost });
    const { RunnableLambda } = await import("@langchain/core/runnables");
    const chain = RunnableLambda.from(async (input: string, config) => model.invoke(input, config));
    await chain.invoke("hi", { callbacks: [{ handleChainStart() {} }] });
    expect(records).toHaveLength(1);
    expect(records[0]?.parentRunId).toEqual(expect.any(String));
    expect(records[0]?.parentRunId).not.toBe(records[0]?.runId);
  });
});
