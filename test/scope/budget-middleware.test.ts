/**
 * budgetMiddleware(): a budget for every run of a createAgent agent, following modelCallLimitMiddleware's
 * conventions (`exitBehavior: "end"` ends the run with a final message, `"error"` throws), used instead of
 * the models' own budgets.
 *
 * Figures: every call costs $0.00045; with a $0.001 limit, calls 1 and 2 spend $0.0009 and call 3 takes the
 * run to $0.00135. The looping agent asks for the echo tool on every call, so only its budget ends it.
 */
import { AIMessage } from "@langchain/core/messages";
import { ChatOpenAI } from "@langchain/openai";
import { createAgent } from "langchain";
import { describe, expect, it } from "vitest";
import { BudgetExceededError, InvalidOptionsError } from "../../src/index.js";
import { budgetMiddleware } from "../../src/scope/budget-middleware.js";
import { billing } from "../budget/hard-cap-billing.js";
import { costOf, echoTool, LOOP_REPLY, meteredModel, rejectionOf, USAGE, useFakeOpenAI, userMessage } from "../budget/helpers.js";

const server = useFakeOpenAI();
const LIMIT = { limitUsd: 0.001 };

describe('exitBehavior "end" (the default)', () => {
  it("ends the run with a final message once its budget is spent; the crossing call keeps its answer", async () => {
    server().setDefault(LOOP_REPLY);
    const agent = createAgent({ model: meteredModel(server()), tools: [echoTool], middleware: [budgetMiddleware(LIMIT)] });

    const { messages } = await agent.invoke(userMessage("loop"), { recursionLimit: 50 });

    expect(server().requests).toHaveLength(3); // the 4th call is never sent
    const ai = messages.filter(AIMessage.isInstance);
    expect(ai.slice(0, 3).map((m) => costOf(m)?.nanoUsd)).toEqual([450_000, 450_000, 450_000]);
    const last = messages.at(-1);
    expect(AIMessage.isInstance(last)).toBe(true);
    expect(last?.text).toContain("The run budget is spent: $0.00135 of its $0.001 limit");
    expect((last as AIMessage).tool_calls ?? []).toHaveLength(0);
  });

  it("gives every agent.invoke a budget of its own, in place of the model's own", async () => {
    server().setDefault(LOOP_REPLY);
    // The model's own limit ($1) is looser: the middleware's decides.
    const agent = createAgent({ model: meteredModel(server(), { budget: { limitUsd: 1 } }), tools: [echoTool], middleware: [budgetMiddleware(LIMIT)] });
    await agent.invoke(userMessage("first"), { recursionLimit: 50 });
    await agent.invoke(userMessage("second"), { recursionLimit: 50 });
    expect(server().requests).toHaveLength(6);
  });

  it("under a hard cap, the call that no longer fits answers with the message instead of being sent", async () => {
    // The looping agent's calls are billed as OpenAI bills them (hard-cap-billing.ts), each a little dearer
    // than the last as the conversation grows, until a call's worst case no longer fits in what is left.
    const bills: number[] = [];
    server().setDefault(billing({ toolCalls: [{ name: "echo", arguments: { x: "again" } }], onBill: (bill) => bills.push(bill.nanoUsd ?? NaN) }));
    const agent = createAgent({
      model: meteredModel(server(), { model: "gpt-4o", maxTokens: 200 }),
      tools: [echoTool],
      middleware: [budgetMiddleware({ limitUsd: 0.02, hardCap: true })],
    });

    const { messages } = await agent.invoke(userMessage("Hello"), { recursionLimit: 200 });

    expect(messages.at(-1)?.text).toContain("Call refused: the run budget");
    expect(server().requests.length).toBeGreaterThan(1);
    expect(bills.reduce((sum, nano) => sum + nano, 0)).toBeLessThanOrEqual(20_000_000); // never over, by the bill
  });

  it("prices a plain chat model's answers after each call, and ends the run the same way", async () => {
    server().setDefault(LOOP_REPLY);
    const plain = new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "test", maxRetries: 0, configuration: { baseURL: server().url } });
    const agent = createAgent({ model: plain, tools: [echoTool], middleware: [budgetMiddleware(LIMIT)] });
    const { messages } = await agent.invoke(userMessage("loop"), { recursionLimit: 50 });
    expect(server().requests).toHaveLength(3);
    expect(messages.at(-1)?.text).toContain("The run budget is spent: $0.00135 of its $0.001 limit");
  });
});

describe('exitBehavior "error"', () => {
  it("throws BudgetExceededError from the call that crosses the limit", async () => {
    server().setDefault(LOOP_REPLY);
    const agent = createAgent({ model: meteredModel(server()), tools: [echoTool], middleware: [budgetMiddleware({ ...LIMIT, exitBehavior: "error" })] });
    const error = await rejectionOf(agent.invoke(userMessage("loop"), { recursionLimit: 50 }));
    expect(BudgetExceededError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ stop: "exceeded", spentUsd: 0.00135, limitUsd: 0.001 });
    expect(server().requests).toHaveLength(3);
  });

  it("throws from the next model call when a plain model's answer crossed it", async () => {
    server().setDefault(LOOP_REPLY);
    const plain = new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "test", maxRetries: 0, configuration: { baseURL: server().url } });
    const agent = createAgent({ model: plain, tools: [echoTool], middleware: [budgetMiddleware({ ...LIMIT, exitBehavior: "error" })] });
    const error = await rejectionOf(agent.invoke(userMessage("loop"), { recursionLimit: 50 }));
    expect(BudgetExceededError.isInstance(error)).toBe(true);
    expect(server().requests).toHaveLength(3);
  });
});

describe("options", () => {
  it("are validated when the middleware is made, naming the key meant", () => {
    expect(() => budgetMiddleware({ exitBehavior: "stop" as never })).toThrow(InvalidOptionsError);
    expect(() => budgetMiddleware({ limitUSD: 1 } as never)).toThrow(/limitUSD.*did you mean `limitUsd`/s);
  });

  it("a budget with room leaves the run alone", async () => {
    server().script({ usage: USAGE, content: "done" });
    const agent = createAgent({ model: meteredModel(server()), tools: [echoTool], middleware: [budgetMiddleware()] });
    const { messages } = await agent.invoke(userMessage("hi"));
    expect(messages.at(-1)?.text).toBe("done");
  });
});
