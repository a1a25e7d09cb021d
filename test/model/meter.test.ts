/**
 * meter(): any LangChain chat model metered like MeteredChatModel, by the same core. The models here are
 * the real provider packages against loopback fakes (test/support), plus a minimal BaseChatModel.
 *
 * claude-sonnet-4-5 100 in + 20 out: 100 × $3/M + 20 × $15/M = $0.0003 + $0.0003 = $0.0006.
 * gemini-2.5-pro 100 in + 20 out: 100 × $1.25/M + 20 × $10/M = $0.000125 + $0.0002 = $0.000325.
 */
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { AIMessage, type AIMessageChunk, type BaseMessage, HumanMessage } from "@langchain/core/messages";
import type { ChatResult } from "@langchain/core/outputs";
import { RunnableLambda } from "@langchain/core/runnables";
import { createAgent, tool } from "langchain";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { BudgetCallbackHandler, BudgetExceededError, meter, MeteredChatModel, MeteredModel, UnknownModelPriceError } from "../../src/index.js";
import { encoderFor } from "../../src/usage/tokenizer.js";
import { costOf, recorder } from "../support/metered.js";
import { startFakeOpenAI } from "../support/openai-server.js";
import { anthropicModel, geminiModel, useFakeAnthropic, useFakeGemini } from "../support/providers.js";

// A hard cap counts input tokens locally; loading the ranks takes seconds, long enough for a keep-alive
// socket to time out under a test. Load them first.
beforeAll(async () => void (await encoderFor("claude-sonnet-4-5")), 60_000);

const anthropic = useFakeAnthropic();
const gemini = useFakeGemini();
const SMALL = { usage: { input: 100, output: 20 } };

/** A chat model with only `_generate` (no streaming): reports usage, names its model. */
class MinimalChatModel extends BaseChatModel {
  model = "my-model";
  _llmType() {
    return "minimal";
  }
  override getLsParams() {
    return { ls_provider: "acme", ls_model_name: this.model, ls_model_type: "chat" as const };
  }
  async _generate(_messages: BaseMessage[]): Promise<ChatResult> {
    const message = new AIMessage({ content: "ok", usage_metadata: { input_tokens: 1000, output_tokens: 500, total_tokens: 1500 } });
    return { generations: [{ text: "ok", message }] };
  }
}

describe("meter()", () => {
  it("returns a chat model whose answers carry their cost", async () => {
    anthropic().script(SMALL);
    const model = meter(anthropicModel(anthropic()), { budget: false });
    expect(model).toBeInstanceOf(BaseChatModel);
    expect(model).toBeInstanceOf(MeteredModel);
    expect(costOf(await model.invoke("hi"))).toMatchObject({ nanoUsd: 600_000, provider: "anthropic" });
  });

  it("traces name the run after the inner model and carry its standard params", async () => {
    anthropic().script(SMALL);
    const starts: Array<{ id: string[]; inner: unknown; name?: string; metadata: Record<string, unknown> | undefined }> = [];
    const spy = BaseCallbackHandler.fromMethods({
      handleChatModelStart(llm, _messages, _runId, _parent, _extra, _tags, metadata, name) {
        starts.push({ id: llm.id, inner: (llm as { kwargs?: { model?: { id?: string[] } } }).kwargs?.model?.id, name, metadata });
      },
    });
    await meter(anthropicModel(anthropic()), { budget: false }).invoke("hi", { callbacks: [spy] });
    // The run's name is what LangSmith and Langfuse show; its serialized form is the metered model, inner inside.
    expect(starts[0]?.name).toBe("ChatAnthropic");
    expect(starts[0]?.id.at(-1)).toBe("MeteredModel");
    expect(starts[0]?.inner).toEqual(["langchain", "chat_models", "anthropic", "ChatAnthropic"]);
    expect(starts[0]?.metadata).toMatchObject({ ls_provider: "anthropic", ls_model_name: "claude-sonnet-4-5" });
    expect(starts[0]?.metadata).not.toHaveProperty("ls_metered"); // LangSmith's standard params, nothing of ours
  });

  it("a model with no known price is an error at construction; `prices` adds one", async () => {
    expect(() => meter(anthropicModel(anthropic(), { model: "claude-mystery" }))).toThrow(UnknownModelPriceError);
    anthropic().script(SMALL);
    // 100 × 1 + 20 × 2 = $0.00014
    const model = meter(anthropicModel(anthropic(), { model: "claude-mystery" }), { budget: false, prices: { "claude-mystery": { input: 1, output: 2 } } });
    expect(costOf(await model.invoke("hi"))).toMatchObject({ nanoUsd: 140_000, priceSource: "override" });
  });

  it("meter(meter(m)) re-meters with the new options; a MeteredChatModel is refused", () => {
    const once = meter(anthropicModel(anthropic()), { budget: false });
    const twice = meter(once, { budget: { limitUsd: 1 } });
    expect(twice.inner).toBe(once.inner);
    expect(() => meter(new MeteredChatModel({ model: "gpt-4o-mini", apiKey: "t" }) as never)).toThrow(/metered already/);
  });

  it("a model that can't stream streams one priced chunk", async () => {
    // my-model: 1000 × 1 + 500 × 2 = $0.002
    const model = meter(new MinimalChatModel({}), { budget: false, prices: { "my-model": { input: 1, output: 2 } } });
    const chunks: AIMessageChunk[] = [];
    for await (const chunk of await model.stream("hi")) chunks.push(chunk);
    expect(chunks.map((c) => c.content)).toEqual(["ok"]);
    expect(costOf(chunks[0])).toMatchObject({ nanoUsd: 2_000_000, provider: "acme" });
    const assembled = await model.streamEvents("hi"); // LangChain's event bridge over that one chunk
    expect([assembled.text, costOf(assembled)?.nanoUsd]).toEqual(["ok", 2_000_000]);
  });
});

describe("budgets", () => {
  it("the per-run default budget applies to a metered model", async () => {
    anthropic().setDefault({ usage: { input: 10_000, output: 1000 } }); // 10,000 × 3 + 1000 × 15 = $0.045 a call
    const model = meter(anthropicModel(anthropic()), { budget: { limitUsd: 0.05 } });
    const agent = createAgent({ model, tools: [echo] });
    anthropic().setDefault({ usage: { input: 10_000, output: 1000 }, toolCalls: [{ name: "echo", input: { x: "again" } }] });
    const error = await agent.invoke({ messages: [new HumanMessage("loop")] }).catch((e: unknown) => e);
    expect(BudgetExceededError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ stop: "exceeded", spentUsd: 0.09, limitUsd: 0.05 });
    expect(anthropic().requests).toHaveLength(2);
  });

  it("a hard cap lowers the request's max_tokens to what the budget can pay for", async () => {
    anthropic().script(SMALL);
    await meter(anthropicModel(anthropic()), { budget: { limitUsd: 0.01, hardCap: true } }).invoke("hi");
    const maxTokens = anthropic().requests[0]?.body.max_tokens as number;
    expect(maxTokens).toBeGreaterThan(16);
    expect(maxTokens).toBeLessThan(700); // $0.01 / $15 per 1M output ≈ 666, less the input
  });

  it("each batch input is a run of its own, with a budget of its own", async () => {
    anthropic().setDefault({ usage: { input: 10_000, output: 1000 } }); // $0.045 a call
    const results = await meter(anthropicModel(anthropic()), { budget: { limitUsd: 0.1 } }).batch(["1", "2", "3"], undefined, { returnExceptions: true, maxConcurrency: 1 });
    expect(results.map((r) => (r instanceof Error ? (r as BudgetExceededError).stop : "ok"))).toEqual(["ok", "ok", "ok"]);
  });

  it("calls inside one run share its budget", async () => {
    anthropic().setDefault({ usage: { input: 10_000, output: 1000 } }); // $0.045 a call: the third crosses $0.1
    const model = meter(anthropicModel(anthropic()), { budget: { limitUsd: 0.1 } });
    const run = RunnableLambda.from(async () => {
      const outcomes: string[] = [];
      for (const n of ["1", "2", "3"]) outcomes.push(await model.invoke(n).then(() => "ok", (e: BudgetExceededError) => e.stop));
      return outcomes;
    });
    expect(await run.invoke({})).toEqual(["ok", "ok", "exceeded"]);
  });
});

const echo = tool(async ({ x }: { x: string }) => `echo: ${x}`, { name: "echo", description: "Echoes.", schema: z.object({ x: z.string() }) });

describe("in agents and chains", () => {
  it("createAgent with a metered ChatAnthropic: every AI message is priced", async () => {
    const { records, onCost } = recorder();
    anthropic().script({ toolCalls: [{ name: "echo", input: { x: "hi" } }], usage: { input: 100, output: 20 } }, { content: "done", usage: { input: 200, output: 10 } });
    const agent = createAgent({ model: meter(anthropicModel(anthropic()), { onCost }), tools: [echo] });
    const result = await agent.invoke({ messages: [new HumanMessage("echo hi")] });
    // 200 × 3 + 10 × 15 = $0.0006 + $0.00015 = $0.00075
    expect(result.messages.filter((m) => AIMessage.isInstance(m)).map((m) => costOf(m)?.nanoUsd)).toEqual([600_000, 750_000]);
    expect(records).toHaveLength(2);
    expect(anthropic().requests[0]?.body.tools?.[0]?.name).toBe("echo");
  });

  it("withFallbacks: a provider error falls back to another metered model; only the answer is paid for", async () => {
    anthropic().script({ status: 529 });
    gemini().script({ usage: { prompt: 100, candidates: 20 } });
    const budget = new BudgetCallbackHandler({ limitUsd: 1 });
    const model = meter(anthropicModel(anthropic())).withFallbacks([meter(geminiModel(gemini()))]);
    const message = await model.invoke("hi", { callbacks: [budget] });
    expect(costOf(message)).toMatchObject({ nanoUsd: 325_000, model: "gemini-2.5-pro" });
    expect(budget.records.map((r) => r.model)).toEqual(["gemini-2.5-pro"]);
    expect(anthropic().requests).toHaveLength(1);
  });

  it("MeteredChatModel.withFallbacks: an OpenAI error falls back to a metered ChatAnthropic", async () => {
    const openai = await startFakeOpenAI({ defaultReply: { status: 500 } });
    try {
      anthropic().script(SMALL);
      const { records, onCost } = recorder();
      const primary = new MeteredChatModel({ model: "gpt-4o-mini", apiKey: "t", maxRetries: 0, configuration: { baseURL: openai.url }, onCost });
      const message = await primary.withFallbacks([meter(anthropicModel(anthropic()), { onCost })]).invoke("hi");
      expect(costOf(message)).toMatchObject({ nanoUsd: 600_000, provider: "anthropic" });
      expect(records.map((r) => r.provider)).toEqual(["anthropic"]);
      expect(openai.requests).toHaveLength(1);
    } finally {
      await openai.close();
    }
  });

  it("withFallbacks to a plain model: the budget's callbacks still count it", async () => {
    anthropic().script({ status: 529 });
    gemini().script({ usage: { prompt: 100, candidates: 20 } });
    const budget = new BudgetCallbackHandler({ limitUsd: 1 });
    await meter(anthropicModel(anthropic())).withFallbacks([geminiModel(gemini())]).invoke("hi", { callbacks: [budget] });
    expect(budget.records.map((r) => [r.model, r.cost.nanoUsd])).toEqual([["gemini-2.5-pro", 325_000]]);
  });
});
