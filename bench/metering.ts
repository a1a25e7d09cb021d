/**
 * Metering overhead: `MeteredChatModel` vs plain `ChatOpenAI` against the same loopback fake server,
 * plus `priceUsage` alone. Goal: metering adds < 5% wall time and < 50 µs CPU per call.
 *
 * Importing langchain-metered registers a per-run budget handler with LangChain for EVERY root run in the
 * process, plain ChatOpenAI included. So the baseline turns it off (RUN_BUDGET_ENV=false, read by LangChain
 * at each run's start) to stand for an app without the library; one extra row shows what the library
 * costs a plain ChatOpenAI just by being imported.
 */
import type { AIMessage, AIMessageChunk, UsageMetadata } from "@langchain/core/messages";
import { ChatOpenAI } from "@langchain/openai";
import { MeteredChatModel, priceUsage, type Cost } from "../src/index.js";
import { assert, bench, compare, section, type Case } from "./harness.js";
import { startFakeServer } from "./fake-server-process.js";

export const MODEL = "gpt-4o-mini";
export const PROMPT = "Say hello.";
export const SCRIPTED_USAGE = { promptTokens: 1000, completionTokens: 200, cachedTokens: 200 };
const usage: UsageMetadata = { input_tokens: 1000, output_tokens: 200, total_tokens: 1200, input_token_details: { cache_read: 200 } };
// gpt-4o-mini: 800 × $0.15/M + 200 cached × $0.075/M + 200 × $0.60/M
const EXPECTED_USD = 0.000255;

export function checkUsage(message: AIMessage | AIMessageChunk | undefined): void {
  assert(message?.usage_metadata?.input_tokens === 1000, "input_tokens is 1000");
  assert(message.usage_metadata.output_tokens === 200, "output_tokens is 200");
  assert(message.usage_metadata.input_token_details?.cache_read === 200, "cache_read is 200");
}

export function checkCost(cost: Cost | undefined): void {
  assert(cost, "the metered response carries response_metadata.cost");
  assert(cost.estimated === false, "the cost comes from reported usage, not an estimate");
  assert(cost.totalUsd === priceUsage(usage, MODEL).totalUsd, "the cost equals priceUsage(usage)");
  assert(Math.abs(cost.totalUsd - EXPECTED_USD) < 1e-12, `the cost is $${EXPECTED_USD} (got ${cost.totalUsd})`);
}

// Importing the library no longer changes anything for other runs: both sides run as they are.
export const withoutLibrary = () => {};
export const withLibrary = () => {};

export const costOf = (m: AIMessage | AIMessageChunk | undefined) => m?.response_metadata?.cost as Cost | undefined;

/** Consumes a whole stream; returns the chunk that carried usage, and the chunk count. */
export async function drain(
  model: ChatOpenAI,
  options?: Parameters<ChatOpenAI["stream"]>[1],
): Promise<{ usageChunk: AIMessageChunk | undefined; count: number }> {
  let usageChunk: AIMessageChunk | undefined;
  let count = 0;
  for await (const chunk of await model.stream(PROMPT, options)) {
    count++;
    if (chunk.usage_metadata) usageChunk = chunk;
  }
  return { usageChunk, count };
}

section("metering", async () => {
  const server = await startFakeServer({ usage: SCRIPTED_USAGE });
  try {
    const fields = { model: MODEL, apiKey: "test", maxRetries: 0, configuration: { baseURL: server.url } };
    const plain = new ChatOpenAI(fields);
    const metered = new MeteredChatModel(fields);

    const invokeCase = (label: string, model: ChatOpenAI, metered: boolean, setup = metered ? withLibrary : withoutLibrary): Case<AIMessage> => ({
      label,
      setup,
      op: () => model.invoke(PROMPT),
      check: (m) => {
        checkUsage(m);
        if (metered) checkCost(costOf(m));
        else assert(costOf(m) === undefined, "plain ChatOpenAI carries no cost");
      },
    });
    await compare("invoke, sequential", invokeCase("ChatOpenAI", plain, false), invokeCase("MeteredChatModel", metered, true), {
      blockSize: 50,
      blocks: 20,
    });
    await compare(
      "invoke, sequential: metering only (budget: false, run budget off)",
      invokeCase("ChatOpenAI", plain, false),
      invokeCase("MeteredChatModel budget:false", new MeteredChatModel({ ...fields, budget: false }), true, withoutLibrary),
      { blockSize: 50, blocks: 20 },
    );
    await compare(
      "invoke, sequential: plain ChatOpenAI with the library imported",
      invokeCase("ChatOpenAI", plain, false),
      invokeCase("ChatOpenAI, library imported", plain, false, withLibrary),
      { blockSize: 50, blocks: 20 },
    );

    const ROUND = 100;
    const roundCase = (label: string, model: ChatOpenAI, metered: boolean): Case<AIMessage[]> => ({
      label,
      setup: metered ? withLibrary : withoutLibrary,
      op: () => Promise.all(Array.from({ length: ROUND }, () => model.invoke(PROMPT))),
      check: (ms) => {
        assert(ms.length === ROUND, `${ROUND} replies`);
        for (const m of ms) {
          checkUsage(m);
          if (metered) checkCost(costOf(m));
        }
      },
    });
    await compare(`invoke, ${ROUND} concurrent (per call)`, roundCase("ChatOpenAI", plain, false), roundCase("MeteredChatModel", metered, true), {
      blockSize: 1,
      blocks: 12,
      warmup: 3,
      callsPerOp: ROUND,
    });

    const streamCase = (label: string, model: ChatOpenAI, metered: boolean): Case<Awaited<ReturnType<typeof drain>>> => ({
      label,
      setup: metered ? withLibrary : withoutLibrary,
      op: () => drain(model),
      check: ({ usageChunk, count }) => {
        assert(count > 2, "the stream has several chunks");
        checkUsage(usageChunk);
        if (metered) checkCost(costOf(usageChunk));
      },
    });
    await compare("stream, sequential", streamCase("ChatOpenAI", plain, false), streamCase("MeteredChatModel", metered, true), {
      blockSize: 50,
      blocks: 20,
    });
  } finally {
    withLibrary();
    await server.close();
  }

  await bench(
    {
      label: `priceUsage(usage, "${MODEL}")`,
      op: () => priceUsage(usage, MODEL),
      check: (cost) => assert(Math.abs(cost.totalUsd - EXPECTED_USD) < 1e-12, `priceUsage is $${EXPECTED_USD}`),
    },
    { sync: true, blockSize: 5_000, blocks: 20, warmup: 20_000 },
  );
});
