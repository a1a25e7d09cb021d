/**
 * How budgets find their run, in one process: a composite run (an agent, an LCEL chain, a lambda, a
 * sub-agent inside a tool) shares one budget across its metered calls; parallel runs never share one; a
 * call that is its own run gets its own budget; and plain models are left alone: no callback path, no run
 * manager, whether or not a metered model was constructed.
 *
 * Figures: every call costs $0.00045; with a $0.001 limit the third call of a run crosses ($0.00135).
 */
import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import type { BaseMessage } from "@langchain/core/messages";
import { RunnableLambda, RunnableSequence } from "@langchain/core/runnables";
import { ChatOpenAI } from "@langchain/openai";
import { createAgent, tool } from "langchain";
import { describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { BudgetExceededError } from "../../src/index.js";
import { echoTool, LOOP_REPLY, meteredModel, rejectionOf, USAGE, useFakeOpenAI, userMessage } from "../budget/helpers.js";

const server = useFakeOpenAI();
const LIMIT = { limitUsd: 0.001 };

const plainModel = () => new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "test", maxRetries: 0, configuration: { baseURL: server().url } });

describe("plain models pay nothing for the library", () => {
  it("a plain ChatOpenAI gets no run manager, in a bare call, a chain and an agent, after a metered model was made", async () => {
    server().setDefault({ usage: USAGE, content: "done" });
    meteredModel(server()); // installs run scopes
    // Every plain call's run manager (bindTools in an agent makes a new ChatOpenAI: watch the class).
    const generate = vi.spyOn(ChatOpenAI.prototype, "_generate");
    try {
      const plain = plainModel();
      await plain.invoke("bare");
      await RunnableSequence.from([plain, RunnableLambda.from((m: BaseMessage) => m.text)]).invoke("chain");
      await createAgent({ model: plain, tools: [echoTool] }).invoke(userMessage("agent"));
      const runManagers = generate.mock.calls.map((call) => call[2] as CallbackManagerForLLMRun | undefined);
      expect(runManagers).toHaveLength(3);
      expect(runManagers.every((manager) => manager === undefined)).toBe(true);
    } finally {
      generate.mockRestore();
    }
  });
});

describe("one budget per run, shared by its metered calls", () => {
  it("an LCEL chain of two metered models and a lambda that calls a third", async () => {
    server().setDefault({ usage: USAGE });
    const model = meteredModel(server(), { budget: LIMIT });
    const text = RunnableLambda.from((m: BaseMessage) => m.text);
    const third = RunnableLambda.from(async (input: string) => model.invoke(input));
    const chain = RunnableSequence.from([model, text, model, text, third]);
    expect(await rejectionOf(chain.invoke("go"))).toMatchObject({ name: "BudgetExceededError", stop: "exceeded", spentUsd: 0.00135 });
    expect(server().requests).toHaveLength(3);
  });

  it("a sub-agent run by a tool counts toward the parent run's budget", async () => {
    server().setDefault(LOOP_REPLY);
    const model = meteredModel(server(), { budget: LIMIT });
    const sub = createAgent({ model, tools: [echoTool] });
    const delegate = tool(async ({ x }: { x: string }) => {
      const { messages } = await sub.invoke(userMessage(`sub ${x}`));
      return String(messages.at(-1)?.text);
    }, { name: "delegate", description: "Asks a sub-agent.", schema: z.object({ x: z.string() }) });
    server().script({ usage: USAGE, toolCalls: [{ name: "delegate", arguments: { x: "1" } }] });
    const parent = createAgent({ model, tools: [delegate] });
    // The parent's first call, then the sub-agent's: the third call overall crosses the run's $0.001.
    const error = await rejectionOf(parent.invoke(userMessage("parent"), { recursionLimit: 50 }));
    expect(BudgetExceededError.isInstance(error) || BudgetExceededError.isInstance((error as { cause?: unknown }).cause)).toBe(true);
    expect(server().requests).toHaveLength(3);
  });

  it("parallel runs of one chain never share a budget", async () => {
    server().setDefault({ usage: USAGE });
    const model = meteredModel(server(), { budget: LIMIT });
    const twoCalls = RunnableSequence.from([model, RunnableLambda.from((m: BaseMessage) => m.text), model]);
    await Promise.all(Array.from({ length: 6 }, (_, i) => twoCalls.invoke(`run ${i}`))); // $0.0009 each: all within
    expect(server().requests).toHaveLength(12);
  });
});

describe("a call that is its own run", () => {
  it("invoke, stream and each batch input start with the whole limit", async () => {
    server().setDefault({ usage: USAGE });
    const model = meteredModel(server(), { budget: LIMIT });
    for (let i = 0; i < 3; i++) await model.invoke(`invoke ${i}`);
    for (let i = 0; i < 3; i++) for await (const _ of await model.stream(`stream ${i}`));
    await model.batch(["a", "b", "c", "d"]);
    expect(server().requests).toHaveLength(10); // $0.0045 in all, none refused: no budget outlives its run
  });
});
