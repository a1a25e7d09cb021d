/**
 * Per-run scoping (the default): every root invocation — a bare `model.invoke`, a chain, a `createAgent`
 * run — gets a fresh budget of the model's limit, shared by everything inside it. An explicit
 * BudgetCallbackHandler in the root config replaces it; `budget: false` meters without stopping.
 *
 * Figures: each call costs $0.00045. With a $0.001 limit, calls 1 and 2 total $0.0009 (within), and
 * call 3 takes the run to $0.00135 and throws: a looping run makes exactly 3 requests.
 */
import { RunnableLambda, RunnableSequence } from "@langchain/core/runnables";
import { createAgent } from "langchain";
import { describe, expect, it } from "vitest";
import { BudgetCallbackHandler, BudgetExceededError } from "../../src/index.js";
import { CALL_NANO, costOf, echoTool, LOOP_REPLY, meteredModel, rejectionOf, USAGE, useFakeOpenAI, userMessage } from "./helpers.js";

const server = useFakeOpenAI();
const LIMIT = { limitUsd: 0.001 };

describe("separate root invocations", () => {
  it("each model.invoke starts with the whole limit", async () => {
    server().setDefault({ usage: USAGE });
    const model = meteredModel(server(), { budget: LIMIT });
    // Five calls spend $0.00225 in all, over twice the limit: only a shared budget would stop them.
    for (let i = 0; i < 5; i++) {
      const reply = await model.invoke(`call ${i}`);
      expect(costOf(reply)?.nanoUsd).toBe(CALL_NANO);
    }
    expect(server().requests).toHaveLength(5);
  });

  it("each chain invocation gets its own budget, shared by the calls inside it", async () => {
    server().setDefault({ usage: USAGE });
    const model = meteredModel(server(), { budget: LIMIT });
    const text = RunnableLambda.from((message: { content: unknown }) => String(message.content));
    const twoCalls = RunnableSequence.from([model, text, model]);
    const threeCalls = RunnableSequence.from([model, text, model, text, model]);

    for (let i = 0; i < 3; i++) await twoCalls.invoke(`chain ${i}`); // $0.0009 each time: within
    expect(server().requests).toHaveLength(6);

    const error = await rejectionOf(threeCalls.invoke("three"));
    expect(BudgetExceededError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ stop: "exceeded", scope: "run", spentUsd: 0.00135, limitUsd: 0.001 });
    expect(server().requests).toHaveLength(9);
  });
});

describe("a createAgent run", () => {
  it("that loops is stopped by the call that takes it over the limit", async () => {
    server().setDefault(LOOP_REPLY);
    const agent = createAgent({ model: meteredModel(server(), { budget: LIMIT }), tools: [echoTool] });

    const error = await rejectionOf(agent.invoke(userMessage("loop"), { recursionLimit: 50 }));

    expect(BudgetExceededError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ stop: "exceeded", scope: "run", spentUsd: 0.00135, limitUsd: 0.001 });
    expect(server().requests).toHaveLength(3);
  });

  it("gets a fresh budget every time", async () => {
    server().setDefault(LOOP_REPLY);
    const agent = createAgent({ model: meteredModel(server(), { budget: LIMIT }), tools: [echoTool] });
    await rejectionOf(agent.invoke(userMessage("first")));
    await rejectionOf(agent.invoke(userMessage("second")));
    expect(server().requests).toHaveLength(6); // 3 + 3: the second run was not refused up front
  });

  it("in parallel with another keeps its own budget: both make the same number of calls", async () => {
    server().setDefault(LOOP_REPLY);
    const agent = createAgent({ model: meteredModel(server(), { budget: LIMIT }), tools: [echoTool] });

    const results = await Promise.allSettled([agent.invoke(userMessage("run A")), agent.invoke(userMessage("run B"))]);

    for (const result of results) {
      expect(result.status).toBe("rejected");
      expect((result as PromiseRejectedResult).reason).toMatchObject({ name: "BudgetExceededError", spentUsd: 0.00135 });
    }
    const firstUserMessage = (body: { messages: Array<{ content: unknown }> }) => body.messages[0]?.content;
    const byRun = (run: string) => server().requests.filter((r) => firstUserMessage(r.body) === run).length;
    expect(byRun("run A")).toBe(3);
    expect(byRun("run B")).toBe(3);
  });

  it("with `budget: false` is never stopped, and its messages still carry their cost", async () => {
    // $0.75 a call (1M × $0.15/1M + 1M × $0.60/1M): 4 calls, $3, are over the default $2 limit.
    const pricey = { usage: { promptTokens: 1_000_000, completionTokens: 1_000_000 } };
    const toolCall = { ...pricey, toolCalls: [{ name: "echo", arguments: { x: "again" } }] };
    const script = () => server().script(toolCall, toolCall, toolCall, { ...pricey, content: "done" });

    script();
    const free = createAgent({ model: meteredModel(server(), { budget: false }), tools: [echoTool] });
    const { messages } = await free.invoke(userMessage("go"));
    const costs = messages.filter((m) => m.getType() === "ai").map((m) => costOf(m)?.totalUsd);
    expect(costs).toEqual([0.75, 0.75, 0.75, 0.75]);
    expect(messages.at(-1)?.content).toBe("done");

    // The same run under the default $2 budget stops at the third call ($2.25).
    server().reset();
    script();
    const capped = createAgent({ model: meteredModel(server()), tools: [echoTool] });
    expect(await rejectionOf(capped.invoke(userMessage("go")))).toMatchObject({ limitUsd: 2, spentUsd: 2.25 });
    expect(server().requests).toHaveLength(3);
  });
});

describe("an explicit BudgetCallbackHandler in the root config", () => {
  it("is used instead of the model's looser limit", async () => {
    server().setDefault(LOOP_REPLY);
    const agent = createAgent({ model: meteredModel(server(), { budget: { limitUsd: 1 } }), tools: [echoTool] });
    const budget = new BudgetCallbackHandler({ limitUsd: 0.001 });

    const error = await rejectionOf(agent.invoke(userMessage("go"), { callbacks: [budget] }));

    expect(error).toMatchObject({ name: "BudgetExceededError", stop: "exceeded", limitUsd: 0.001 });
    expect(server().requests).toHaveLength(3);
    expect(budget.records).toHaveLength(3);
    expect(budget.spentUsd).toBe(0.00135);
    expect(budget.signal.reason).toBe(error);
  });

  it("is used instead of the model's tighter limit", async () => {
    const toolCall = LOOP_REPLY;
    server().script(toolCall, toolCall, toolCall, toolCall, { usage: USAGE, content: "done" });
    const agent = createAgent({ model: meteredModel(server(), { budget: LIMIT }), tools: [echoTool] });
    const budget = new BudgetCallbackHandler({ limitUsd: 1 });

    const { messages } = await agent.invoke(userMessage("go"), { callbacks: [budget] });

    expect(messages.at(-1)?.content).toBe("done");
    expect(server().requests).toHaveLength(5); // $0.00225: over the model's $0.001, within the handler's $1
    expect(budget.spentUsd).toBe(0.00225);
    expect(budget.limitUsd).toBe(1);
  });
});
