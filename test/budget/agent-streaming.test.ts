/**
 * A createAgent run consumed as a stream is still one root run with one budget: a looping agent stops
 * at the call that takes it over the limit, whatever the stream mode.
 *
 * Figures: $0.00045 a call, $0.001 limit: calls 1–2 are within ($0.0009), call 3 crosses ($0.00135).
 */
import { createAgent } from "langchain";
import { describe, expect, it } from "vitest";
import { BudgetExceededError } from "../../src/index.js";
import { echoTool, LOOP_REPLY, meteredModel, useFakeOpenAI, userMessage } from "./helpers.js";

const server = useFakeOpenAI();

async function drainAll(stream: AsyncIterable<unknown>): Promise<unknown> {
  try {
    for await (const _ of stream) void _;
  } catch (error) {
    return error;
  }
  return undefined;
}

function loopingAgent(fields: { streaming?: boolean } = {}) {
  server().setDefault(LOOP_REPLY);
  return createAgent({ model: meteredModel(server(), { budget: { limitUsd: 0.001 }, ...fields }), tools: [echoTool] });
}

describe("agent.stream()", () => {
  for (const streamMode of ["values", "updates", "messages"] as const) {
    it(`stops a looping agent streamed with streamMode "${streamMode}"`, async () => {
      const agent = loopingAgent();
      const error = await drainAll(await agent.stream(userMessage("loop"), { streamMode, recursionLimit: 50 }));

      expect(BudgetExceededError.isInstance(error)).toBe(true);
      expect(error).toMatchObject({ stop: "exceeded", scope: "run", spentUsd: 0.00135 });
      expect(server().requests).toHaveLength(3);
    });
  }

  it("stops a looping agent whose model streams its calls", async () => {
    const agent = loopingAgent({ streaming: true });
    const error = await drainAll(await agent.stream(userMessage("loop"), { streamMode: "values", recursionLimit: 50 }));

    expect(error).toMatchObject({ name: "BudgetExceededError", stop: "exceeded", spentUsd: 0.00135 });
    expect(server().requests).toHaveLength(3);
    expect(server().requests.every((r) => r.stream)).toBe(true);
  });

  // Regression guard (was a bug in src/model/metered-chat-model.ts `_streamChatModelEvents` + src/model/call-budget.ts `open`): with
  // `version: "v3"` LangGraph attaches StreamProtocolMessagesHandler (lc_prefer_chat_model_stream_events),
  // and @langchain/core's BaseChatModel._generateUncached then calls
  // `this._streamChatModelEvents(baseMessages[0], parsedOptions)` WITHOUT the run manager it has just
  // started. MeteredChatModel reads "no run manager" as a bare `streamEvents()` and gives every call a
  // fresh "call" budget (`standalone: !runManager`), so the run's budget is bypassed: this agent makes
  // requests until the recursion limit (10 here, $0.0045 against $0.001). Fix: in
  // `_streamChatModelEvents`, when `runManager` is undefined, look for the run's budget handler in
  // LangChain's async context (`AsyncLocalStorageProviderSingleton.getRunnableConfig()?.callbacks`, whose
  // handlers hold the RunBudgetHandler or the user's handler) before falling back to a standalone budget.
  it('stops a looping agent streamed with version "v3"', async () => {
    const agent = loopingAgent();
    // `version` is not in createAgent's stream option types, though its graph honours it.
    const v3 = { version: "v3", streamMode: ["messages"], recursionLimit: 20 } as Record<string, unknown>;
    const error = await drainAll((await agent.stream(userMessage("loop"), v3 as never)) as AsyncIterable<unknown>);

    expect(server().requests).toHaveLength(3);
    expect(error).toMatchObject({ name: "BudgetExceededError", stop: "exceeded" });
  });
});
