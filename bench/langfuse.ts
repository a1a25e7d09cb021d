/**
 * Langfuse handler overhead: each of our handlers against the bare stock Langfuse handler it extends, per
 * call, on the same loopback servers (the fake OpenAI and the Langfuse receiver, each in a child process so
 * only the client's CPU is counted), interleaved block by block.
 *
 * - v3: `langfuse-langchain`'s CallbackHandler vs `langchain-metered/langfuse-langchain` (one extra
 *   `generation-update` per generation, sent in the same batches).
 * - v5: `@langfuse/langchain`'s CallbackHandler vs `langchain-metered/langfuse`, spans exported as OTLP/JSON
 *   by `@langfuse/otel`'s LangfuseSpanProcessor (batched).
 * Each with a MeteredChatModel (the cost is read off the message) and a plain ChatOpenAI (our handler
 * prices the call itself), measured two ways:
 * - end to end: one `invoke` with the handler, then `awaitAllCallbacks()` (LangChain runs these handlers in
 *   the background, and their work belongs to the call); the HTTP round trip to the fake model dominates;
 * - handler alone: `handleChatModelStart` + `handleLLMEnd` called directly with that call's real output,
 *   so the handlers' own work (events, spans, export) is all that is timed.
 *
 * Before measuring, each pair is checked end to end: what the receiver got from our handler carries the
 * message's cost, and what it got from the stock handler carries none.
 */
import { awaitAllCallbacks } from "@langchain/core/callbacks/promises";
import type { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { randomUUID } from "node:crypto";
import { type AIMessage, HumanMessage } from "@langchain/core/messages";
import type { ChatGeneration, LLMResult } from "@langchain/core/outputs";
import { ChatOpenAI } from "@langchain/openai";
import { CallbackHandler as StockV5 } from "@langfuse/langchain";
import { LangfuseSpanProcessor } from "@langfuse/otel";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { CallbackHandler as StockV3 } from "langfuse-langchain";
import { MeteredChatModel, priceUsage } from "../src/index.js";
import { CallbackHandler as MeteredV5 } from "../src/integrations/langfuse.js";
import { CallbackHandler as MeteredV3 } from "../src/integrations/langfuse-langchain.js";
import { startFakeServer } from "./fake-server-process.js";
import { assert, compare, section, type Case } from "./harness.js";
import { type BenchReceiver, startReceiverProcess } from "./langfuse-receiver-process.js";
import { checkUsage, costOf, MODEL, PROMPT, SCRIPTED_USAGE } from "./metering.js";

const PLAN = { blockSize: 50, blocks: 20 };

section("langfuse", async () => {
  const server = await startFakeServer({ usage: SCRIPTED_USAGE });
  const receiver = await startReceiverProcess();
  const keys = { publicKey: receiver.publicKey, secretKey: receiver.secretKey, baseUrl: receiver.url };
  // Retries: the handler-alone rows leave the fake server idle past its keep-alive timeout, and the next call
  // may pick a socket the server is closing (a "Connection error" that a retry absorbs).
  const fields = { model: MODEL, apiKey: "test", maxRetries: 2, configuration: { baseURL: server.url } };
  const models = { MeteredChatModel: new MeteredChatModel(fields), ChatOpenAI: new ChatOpenAI(fields) };
  const processor = new LangfuseSpanProcessor(keys);
  const provider = new NodeTracerProvider({ spanProcessors: [processor] });
  provider.register();
  const v3 = { stock: new StockV3(keys), ours: new MeteredV3(keys) };
  const v5 = { stock: new StockV5(), ours: new MeteredV5() };
  const flush = () => Promise.all([v3.stock.flushAsync(), v3.ours.flushAsync(), processor.forceFlush()]);

  const pairs = [["v3 langfuse-langchain", v3], ["v5 @langfuse/langchain", v5]] as const;
  try {
    // Checked first, all of them: measuring leaves thousands of events queued in the v3 clients.
    const outputs = new Map<string, LLMResult>();
    for (const [sdk, pair] of pairs) {
      for (const [name, model] of Object.entries(models)) outputs.set(sdk + name, await verify(receiver, flush, model, pair));
    }
    await receiver.discard();
    for (const [sdk, pair] of pairs) {
      for (const [name, model] of Object.entries(models)) {
        const output = outputs.get(sdk + name);
        assert(output, "verified");
        await compare(
          `${sdk}, ${name}: end to end (invoke)`,
          invokeCase("stock handler", model, pair.stock),
          invokeCase("langchain-metered handler", model, pair.ours),
          PLAN,
        );
        await compare(
          `${sdk}, ${name}: handler alone (start + end)`,
          handlerCase("stock handler", model, pair.stock, output),
          handlerCase("langchain-metered handler", model, pair.ours, output),
          { blockSize: 200, blocks: 20 },
        );
      }
    }
  } finally {
    await flush();
    await provider.shutdown();
    await Promise.all([v3.stock.shutdownAsync(), v3.ours.shutdownAsync()]);
    await Promise.all([receiver.close(), server.close()]);
  }
});

function invokeCase(label: string, model: ChatOpenAI, handler: BaseCallbackHandler): Case<AIMessage> {
  return {
    label,
    op: async () => {
      const message = await model.invoke(PROMPT, { callbacks: [handler] });
      await awaitAllCallbacks();
      return message;
    },
    check: checkUsage,
  };
}

/** The events LangChain sends a handler for one chat-model call, replayed with a real call's output. */
function handlerCase(label: string, model: ChatOpenAI, handler: BaseCallbackHandler, output: LLMResult): Case<void> {
  const llm = model.toJSON();
  const messages = [[new HumanMessage(PROMPT)]];
  const extraParams = { invocation_params: model.invocationParams({}), options: {}, batch_size: 1 };
  const metadata = { ...model.getLsParams({} as never) };
  return {
    label,
    op: async () => {
      const runId = randomUUID();
      await handler.handleChatModelStart?.(llm, messages, runId, undefined, extraParams, [], metadata, model.getName());
      await handler.handleLLMEnd?.(output, runId);
    },
    check: () => undefined, // `verify` checked what these handlers send, end to end
  };
}

/** One call through each handler; what reached the receiver must be priced by ours, and only by ours. */
async function verify(
  receiver: BenchReceiver,
  flush: () => Promise<unknown>,
  model: ChatOpenAI,
  handlers: { stock: BaseCallbackHandler; ours: BaseCallbackHandler },
): Promise<LLMResult> {
  let output: LLMResult | undefined;
  const expectedUsd = priceUsage({ input_tokens: 1000, output_tokens: 200, total_tokens: 1200, input_token_details: { cache_read: 200 } }, MODEL).totalUsd;
  for (const side of ["stock", "ours"] as const) {
    await flush(); // what earlier measurements left in the SDKs' queues goes out first
    await receiver.record();
    const message = await model.invoke(PROMPT, { callbacks: [handlers[side]] });
    output = { generations: [[{ text: message.text, message } as ChatGeneration]] };
    await awaitAllCallbacks();
    await flush();
    const generations = await receiver.generations();
    assert(generations.length === 1, `${side}: one generation received (got ${generations.length})`);
    const cost = generations[0]?.costDetails;
    if (side === "stock") {
      assert(cost === undefined, "the stock handler sends no cost");
      continue;
    }
    assert(cost?.total === expectedUsd, `ours: cost total is $${expectedUsd} (got ${cost?.total})`);
    const messageCost = costOf(message);
    if (messageCost) assert(cost.total === messageCost.totalUsd, "ours: cost total equals the message's cost");
    const usageKeys = Object.keys(generations[0]?.usageDetails ?? {}).sort().join();
    assert(Object.keys(cost).sort().join() === usageKeys, `ours: cost keys match usage keys (${usageKeys})`);
  }
  assert(output, "a call was made");
  return output;
}
