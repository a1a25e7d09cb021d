/**
 * Nested calls: a model called inside a tool with the run's config spends from the run's budget; a budget
 * error raised inside a tool — which LangGraph's ToolNode turns into a ToolMessage — still ends the run,
 * because the run's next model call is refused. Also LangGraph's prebuilt createReactAgent.
 */
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { createReactAgent } from "@langchain/langgraph/prebuilt";
import { createAgent, tool } from "langchain";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { BudgetCallbackHandler, BudgetExceededError, type MeteredChatModel } from "../../src/index.js";
import { echoTool, LOOP_REPLY, meteredModel, rejectionOf, USAGE, useFakeOpenAI, userMessage } from "./helpers.js";

const server = useFakeOpenAI();

/** A tool that asks the model itself, passing on the run's config (so its call joins the run). */
function askTool(model: MeteredChatModel) {
  return tool(async ({ question }, config) => String((await model.invoke(question, config)).content), {
    name: "ask",
    description: "Asks the model a sub-question.",
    schema: z.object({ question: z.string() }),
  });
}
const ASK_REPLY = { usage: USAGE, toolCalls: [{ name: "ask", arguments: { question: "sub-question" } }] };

/** Records tool runs, and the errors tools raised (ToolNode catches them, so they are not seen otherwise). */
class ToolRuns extends BaseCallbackHandler {
  name = "tool_runs";
  runIds: string[] = [];
  errors: unknown[] = [];
  override async handleToolStart(...args: Parameters<NonNullable<BaseCallbackHandler["handleToolStart"]>>) {
    this.runIds.push(args[2]);
  }
  override async handleToolError(error: unknown) {
    this.errors.push(error);
  }
}

describe("a model called inside a tool with the run's config", () => {
  it("counts toward the run's budget", async () => {
    // Agent call ($0.00045) → tool's call ($0.0009) → agent call: $0.00135, over $0.001. Were the tool's
    // call not counted, the run would end at $0.0009 with "done".
    server().script(ASK_REPLY, { usage: USAGE, content: "sub-answer" }, { usage: USAGE, content: "done" });
    const model = meteredModel(server(), { budget: { limitUsd: 0.001 } });
    const agent = createAgent({ model, tools: [askTool(model)] });

    const error = await rejectionOf(agent.invoke(userMessage("go")));

    expect(BudgetExceededError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ stop: "exceeded", spentUsd: 0.00135, scope: "run" });
    expect(server().requests).toHaveLength(3);
  });

  it("is recorded on an explicit handler, as a child of the tool's run", async () => {
    server().script(ASK_REPLY, { usage: USAGE, content: "sub-answer" }, { usage: USAGE, content: "done" });
    const model = meteredModel(server(), { budget: { limitUsd: 0.001 } });
    const agent = createAgent({ model, tools: [askTool(model)] });
    const budget = new BudgetCallbackHandler({ limitUsd: 1 });
    const tools = new ToolRuns();

    await agent.invoke(userMessage("go"), { callbacks: [budget, tools] });

    expect(budget.records).toHaveLength(3);
    expect(budget.spentUsd).toBe(0.00135);
    expect(tools.runIds).toHaveLength(1);
    expect(budget.records[1]?.parentRunId).toBe(tools.runIds[0]); // the nested call, made inside the tool
    expect(budget.records[0]?.parentRunId).not.toBe(tools.runIds[0]);
  });

  it("ends the run when it crosses inside the tool: the run's next call is refused", async () => {
    // Limit $0.0008: agent call $0.00045, then the tool's call takes the run to $0.0009 and throws inside
    // the tool. ToolNode turns that into a ToolMessage; the agent's next call must be refused, unsent.
    server().setDefault(ASK_REPLY);
    const model = meteredModel(server(), { budget: { limitUsd: 0.0008 } });
    const agent = createAgent({ model, tools: [askTool(model)] });
    const toolErrors = new ToolRuns();

    const error = await rejectionOf(agent.invoke(userMessage("go"), { callbacks: [toolErrors], recursionLimit: 50 }));

    expect(toolErrors.errors).toHaveLength(1);
    expect(toolErrors.errors[0]).toMatchObject({ name: "BudgetExceededError", stop: "exceeded" });
    expect(BudgetExceededError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ stop: "refused", spentUsd: 0.0009, limitUsd: 0.0008 });
    expect(server().requests).toHaveLength(2);
  });
});

describe("createReactAgent from @langchain/langgraph/prebuilt", () => {
  it("stops a looping run with BudgetExceededError", async () => {
    server().setDefault(LOOP_REPLY);
    const agent = createReactAgent({ llm: meteredModel(server(), { budget: { limitUsd: 0.001 } }), tools: [echoTool] });

    const error = await rejectionOf(agent.invoke(userMessage("loop"), { recursionLimit: 50 }));

    expect(BudgetExceededError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ stop: "exceeded", spentUsd: 0.00135, scope: "run" });
    expect(server().requests).toHaveLength(3);
  });

  it("stops at an explicit handler's limit", async () => {
    server().setDefault(LOOP_REPLY);
    const agent = createReactAgent({ llm: meteredModel(server()), tools: [echoTool] });
    const budget = new BudgetCallbackHandler({ limitUsd: 0.0005 }); // the second call crosses

    const error = await rejectionOf(agent.invoke(userMessage("loop"), { callbacks: [budget] }));

    expect(error).toMatchObject({ name: "BudgetExceededError", stop: "exceeded", spentUsd: 0.0009 });
    expect(server().requests).toHaveLength(2);
    expect(budget.records).toHaveLength(2);
  });
});
