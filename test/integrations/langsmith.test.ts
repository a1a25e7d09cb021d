/**
 * LangSmith costs, end to end: the real `langsmith` Client and LangChain's `LangChainTracer` send their runs
 * to a loopback receiver speaking LangSmith's ingestion API (test/support/langsmith-receiver.ts), in every
 * wire format the Client picks from the server's `/info`. What is asserted is what reached the server: a
 * priced LLM run carries LangSmith's cost fields (`input_cost`, `output_cost`, `total_cost`,
 * `input_cost_details`, `output_cost_details`) in `extra.metadata.usage_metadata`, beside the token counts,
 * equal to the message's own cost to the nano-dollar, and the budget's view under `extra.metadata.metered`.
 *
 * Expected figures are worked by hand (USD per 1M tokens, genai-prices 0.1.8):
 * - gpt-4o-mini, input 0.15, cache read 0.075, output 0.60. 1000 prompt (200 of them cached), 200 completion
 *   (50 of them reasoning): input 800 × 0.15 = $0.00012 + cache read 200 × 0.075 = $0.000015 → $0.000135;
 *   output 150 × 0.60 = $0.00009 + reasoning 50 × 0.60 = $0.00003 → $0.00012; total $0.000255.
 * - claude-sonnet-4-5, input 3, cache read 0.30, 5-minute write 3.75, 1-hour write 6, output 15. 1000 input,
 *   2000 cache read, 3000 + 4000 written, 500 output: input $0.003 + read $0.0006 + written $0.01125 + $0.024
 *   → $0.03885; output $0.0075; total $0.04635.
 * - gemini-2.5-pro, input 1.25, cache read 0.125, output 10 (thinking too). 1000 prompt (400 cached), 200
 *   candidates, 300 thoughts: input 600 × 1.25 = $0.00075 + read 400 × 0.125 = $0.00005 → $0.0008; output
 *   200 × 10 = $0.002 + thinking 300 × 10 = $0.003 → $0.005; total $0.0058.
 * - gpt-4o-mini 1000 in / 500 out (a plain ChatOpenAI): $0.00015 + $0.0003 = $0.00045.
 * - gpt-4o under a $0.001 hard cap, prompt "Hello" (8 tokens): max tokens clamped to 89, $0.0009925 held;
 *   the answer's 89 tokens cost 8 × $2.50/M + 89 × $10/M = $0.00002 + $0.00089 = $0.00091 (see
 *   test/budget/hard-cap.test.ts).
 *
 * How the runs are flushed: LangChain runs tracer callbacks in the background (a FIFO queue of
 * concurrency 1), so a test first waits for that queue (`callbacksDone()`), then asks the Client to send
 * now (`client.flush()`: without it, `awaitPendingTraceBatches()` waits out the 250 ms batching delay), then
 * `awaitPendingTraceBatches()`, then the receiver confirms the runs arrived.
 */
import { consumeCallback, awaitAllCallbacks } from "@langchain/core/callbacks/promises";
import type { AIMessage, BaseMessage } from "@langchain/core/messages";
import { LangChainTracer } from "@langchain/core/tracers/tracer_langchain";
import { ChatOpenAI } from "@langchain/openai";
import { createAgent } from "langchain";
import { Client } from "langsmith";
import * as zlib from "node:zlib";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { BudgetCallbackHandler, BudgetExceededError, type Cost, type CostRecord, LITELLM_COST_HEADER, meter } from "../../src/index.js";
import { langSmithCost } from "../../src/langchain/langsmith-costs.js";
import { encoderFor } from "../../src/usage/tokenizer.js";
import { billing } from "../budget/hard-cap-billing.js";
import { detailsInNano } from "../support/cost.js";
import { type LangSmithReceiver, type ReceivedRun, startLangSmithReceiver } from "../support/langsmith-receiver.js";
import { collect, costOf as costOnMessage, recorder, useFakeOpenAI } from "../support/metered.js";
import { anthropicModel, geminiModel, useFakeAnthropic, useFakeGemini } from "../support/providers.js";
import { aiMessages, ask, getWeather, weatherAgentReply } from "./langfuse-helpers.js";

/** The tracer's hook as @langchain/core ships it: no metered model exists yet when this module loads. */
const STOCK_ON_LLM_END = (LangChainTracer.prototype as unknown as { onLLMEnd: unknown }).onLLMEnd;

const fake = useFakeOpenAI();
const anthropic = useFakeAnthropic();
const gemini = useFakeGemini();

// Counting tokens (a hard cap does) loads the ranks, which takes a while the first time: not under a test.
beforeAll(async () => {
  await encoderFor("gpt-4o");
}, 60_000);

// Whatever the machine's environment says, nothing traces unless a test says so (and then only to loopback).
const TRACING_VARS = ["LANGSMITH_TRACING", "LANGSMITH_TRACING_V2", "LANGCHAIN_TRACING", "LANGCHAIN_TRACING_V2"];
beforeEach(() => {
  for (const name of TRACING_VARS) vi.stubEnv(name, "false");
});
afterEach(() => {
  vi.unstubAllEnvs();
});

const OPENAI_CALL = { promptTokens: 1000, completionTokens: 200, cachedTokens: 200, reasoningTokens: 50 };
const OPENAI_FIELDS = {
  input_cost: 0.000135,
  output_cost: 0.00012,
  total_cost: 0.000255,
  input_cost_details: { cache_read: 0.000015 },
  output_cost_details: { reasoning: 0.00003 },
};
const ANTHROPIC_CALL = { input: 1000, output: 500, cacheRead: 2000, cacheWrite5m: 3000, cacheWrite1h: 4000 };
const ANTHROPIC_FIELDS = {
  input_cost: 0.03885,
  output_cost: 0.0075,
  total_cost: 0.04635,
  input_cost_details: { cache_read: 0.0006, cache_creation: 0.03525 },
};
const GEMINI_CALL = { prompt: 1000, cached: 400, candidates: 200, thoughts: 300 };
const GEMINI_FIELDS = {
  input_cost: 0.0008,
  output_cost: 0.005,
  total_cost: 0.0058,
  input_cost_details: { cache_read: 0.00005 },
  output_cost_details: { reasoning: 0.003 },
};
const PLAIN_USAGE = { promptTokens: 1000, completionTokens: 500 };
const PLAIN_FIELDS = { input_cost: 0.00015, output_cost: 0.0003, total_cost: 0.00045 };
const COST_KEYS = ["input_cost", "output_cost", "total_cost", "input_cost_details", "output_cost_details"];

const nano = (usd: number) => Math.round(usd * 1e9);
const plainOpenAI = () => new ChatOpenAI({ model: "gpt-4o-mini", ...fake.connection() });

/** Resolves once LangChain's background callback queue has run everything queued before it. */
function callbacksDone(): Promise<void> {
  return new Promise((resolve) => void consumeCallback(async () => resolve(), false));
}

/** What the run says LangSmith should show: the usage metadata, and our view under `metered`. */
function metadataOf(run: ReceivedRun | undefined): { usage: Record<string, any> | undefined; metered: Record<string, any> | undefined } {
  const metadata = run?.extra?.metadata as Record<string, any> | undefined;
  return { usage: metadata?.usage_metadata, metered: metadata?.metered };
}

/** The one run tagged `tag` (calls are tagged "metered" / "plain" to tell their runs apart). */
function tagged(runs: ReceivedRun[], tag: string): ReceivedRun {
  const found = runs.filter((run) => (run.tags as string[] | undefined)?.includes(tag));
  expect(found, `one run tagged ${tag}`).toHaveLength(1);
  return found[0]!;
}

/** The message as the run's outputs carry it (LangChain's serialized form). */
function runMessage(run: ReceivedRun): Record<string, any> {
  const message = run.outputs?.generations?.at(-1)?.at(-1)?.message;
  return message?.kwargs ?? message;
}

/**
 * The run's cost fields are the message's cost, to the nano-dollar: total, input + output, and each detail
 * on the side LangSmith keeps it (cache reads and writes, input audio and web searches on the input side;
 * reasoning and output audio on the output side).
 */
function expectCostOf(run: ReceivedRun | undefined, cost: Cost): void {
  const { usage } = metadataOf(run);
  expect(usage, "the run has usage_metadata").toBeDefined();
  expect(usage!.total_cost).toBe(cost.totalUsd);
  expect(nano(usage!.input_cost + usage!.output_cost)).toBe(cost.nanoUsd);
  const d = detailsInNano(cost);
  const positive = (entries: Record<string, number | undefined>) =>
    Object.fromEntries(Object.entries(entries).filter((e): e is [string, number] => (e[1] ?? 0) > 0));
  const inputDetails = positive({ cache_read: d.input_cache_read, cache_creation: d.input_cache_write, audio: d.input_audio, web_search: d.web_search });
  const outputDetails = positive({ reasoning: d.output_reasoning, audio: d.output_audio });
  const sum = (values: Record<string, number>) => Object.values(values).reduce((a, b) => a + b, 0);
  expect(nano(usage!.input_cost)).toBe((d.input ?? 0) + sum(inputDetails));
  expect(nano(usage!.output_cost)).toBe((d.output ?? 0) + sum(outputDetails));
  const inNano = (details: Record<string, number> | undefined) => Object.fromEntries(Object.entries(details ?? {}).map(([k, v]) => [k, nano(v)]));
  expect(inNano(usage!.input_cost_details)).toEqual(inputDetails);
  expect(inNano(usage!.output_cost_details)).toEqual(outputDetails);
}

/** The message's own usage_metadata carries token counts only: what the provider package made. */
function expectUntouchedUsage(message: BaseMessage): void {
  const usage = (message as AIMessage).usage_metadata as Record<string, unknown> | undefined;
  expect(usage).toBeDefined();
  for (const key of COST_KEYS) expect(usage).not.toHaveProperty(key);
}

/** The budget's view as LangSmith gets it: a budget's `records` / `onCost` view, infinities as null. */
function asSent(view: CostRecord["budget"]): Record<string, unknown> | undefined {
  if (!view) return undefined;
  return {
    ...view,
    limitUsd: Number.isFinite(view.limitUsd) ? view.limitUsd : null,
    remainingUsd: Number.isFinite(view.remainingUsd) ? view.remainingUsd : null,
  };
}

interface Mode {
  name: string;
  serverInfo: Record<string, unknown>;
  client?: { autoBatchTracing?: boolean };
  /** Every ingestion request goes here. */
  path: RegExp;
  encoding: string | undefined;
  skip?: boolean;
}

const ZSTD = typeof (zlib as { zstdDecompressSync?: unknown }).zstdDecompressSync === "function" && typeof (zlib as { createZstdCompress?: unknown }).createZstdCompress === "function";

const MODES: Mode[] = [
  { name: "batch JSON", serverInfo: { batch_ingest_config: { use_multipart_endpoint: false } }, path: /^\/runs\/batch$/, encoding: undefined },
  { name: "multipart", serverInfo: {}, path: /^\/runs\/multipart$/, encoding: undefined },
  { name: "multipart + gzip", serverInfo: { instance_flags: { gzip_body_enabled: true } }, path: /^\/runs\/multipart$/, encoding: "gzip" },
  {
    name: "multipart + zstd",
    serverInfo: { instance_flags: { gzip_body_enabled: true, zstd_compression_enabled: true } },
    path: /^\/runs\/multipart$/,
    encoding: "zstd",
    skip: !ZSTD, // Node < 22.15 has no zstd in zlib: the Client falls back to gzip there
  },
  { name: "unbatched (POST /runs, PATCH /runs/:id)", serverInfo: {}, client: { autoBatchTracing: false }, path: /^\/runs(\/[0-9a-f-]{36})?$/, encoding: undefined },
];

/** A receiver for the block, and a fresh Client and tracer per test. */
function useLangSmith(mode: Mode) {
  let receiver: LangSmithReceiver | undefined;
  let client: Client | undefined;
  let tracer: LangChainTracer | undefined;
  beforeAll(async () => {
    receiver = await startLangSmithReceiver({ serverInfo: mode.serverInfo });
  });
  afterAll(async () => receiver?.close());
  beforeEach(() => {
    receiver?.reset();
    client = new Client({ apiUrl: receiver!.url, apiKey: "test", ...mode.client });
    tracer = new LangChainTracer({ client, projectName: "langchain-metered-tests" });
  });
  const ctx = {
    get receiver() {
      if (!receiver) throw new Error("receiver not started");
      return receiver;
    },
    get tracer() {
      if (!tracer) throw new Error("no tracer");
      return tracer;
    },
    /** Waits until `llmRuns` LLM runs (and every run) have ended at the receiver; checks the wire format. */
    async settle(llmRuns: number): Promise<ReceivedRun[]> {
      await callbacksDone();
      await client!.flush();
      await client!.awaitPendingTraceBatches();
      const r = ctx.receiver;
      await r.until(() => r.endedLlmRuns().length >= llmRuns && r.runs().every((run) => run.end_time !== undefined), {
        what: `${llmRuns} ended LLM run(s)`,
      });
      expect(r.rejected).toEqual([]);
      expect(r.requests.length).toBeGreaterThan(0);
      for (const request of r.requests) {
        expect(request.path).toMatch(mode.path);
        expect(request.contentEncoding).toBe(mode.encoding);
      }
      expect(r.infoRequests).toBeLessThanOrEqual(1);
      const runs = r.endedLlmRuns();
      expect(runs).toHaveLength(llmRuns);
      return runs;
    },
  };
  return ctx;
}

// First, on purpose: no metered model has been made in this process yet.
it("a BudgetCallbackHandler alone (no metered model ever made) prices its plain model's LangSmith run", async () => {
  expect((LangChainTracer.prototype as unknown as { onLLMEnd: unknown }).onLLMEnd, "precondition: no metered model made yet").toBe(STOCK_ON_LLM_END);
  const receiver = await startLangSmithReceiver();
  try {
    const client = new Client({ apiUrl: receiver.url, apiKey: "test" });
    const budget = new BudgetCallbackHandler();
    fake.server.script({ usage: PLAIN_USAGE });
    const message = await plainOpenAI().invoke("Hello", { callbacks: [budget, new LangChainTracer({ client })] });
    await callbacksDone();
    await client.flush();
    await client.awaitPendingTraceBatches();
    await receiver.until(() => receiver.endedLlmRuns().length === 1);
    expect(budget.records).toHaveLength(1);
    expectUntouchedUsage(message);
    const [run] = receiver.endedLlmRuns();
    expect(metadataOf(run).usage).toMatchObject(PLAIN_FIELDS);
    expectCostOf(run, budget.records[0]!.cost);
    expect(metadataOf(run).metered?.budget).toEqual(asSent(budget.records[0]!.budget));
  } finally {
    await receiver.close();
  }
});

describe.each(MODES)("LangSmith ingestion, $name", (mode) => {
  const ls = useLangSmith(mode);
  const test = mode.skip ? it.skip : it;

  test("MeteredChatModel invoke: the run's cost fields are the message's cost; usage_metadata keeps its tokens", async () => {
    const costs = recorder();
    fake.server.script({ usage: OPENAI_CALL }, { usage: OPENAI_CALL });
    const message = await fake.model({ onCost: costs.onCost }).invoke("Hello", { callbacks: [ls.tracer], tags: ["metered"] });
    // The same answer from a plain ChatOpenAI, traced too: the token counts LangChain's tracer writes.
    const plain = await plainOpenAI().invoke("Hello", { callbacks: [ls.tracer], tags: ["plain"] });
    const runs = await ls.settle(2);
    const run = tagged(runs, "metered");
    const cost = costOnMessage(message)!;

    expect(cost.nanoUsd).toBe(255_000);
    expectCostOf(run, cost);
    const { usage, metered } = metadataOf(run);
    // The token counts LangChain put there, untouched, and LangSmith's cost fields beside them.
    expect(usage).toEqual({ ...metadataOf(tagged(runs, "plain")).usage, ...OPENAI_FIELDS });
    expect(message.usage_metadata).toEqual(plain.usage_metadata);
    expectUntouchedUsage(message);
    // The run's own message is the one that carries the cost, its usage_metadata as the plain model's.
    expect(runMessage(run).response_metadata.cost).toEqual(cost);
    expect(runMessage(run).usage_metadata).toEqual(plain.usage_metadata);
    // A bare call is its own run with the default $2 budget.
    const [record] = costs.records;
    expect(record?.runId).toBe(run.id);
    expect(metered).toEqual({
      price_source: cost.priceSource,
      estimated: false,
      budget: { decision: "allowed", limitUsd: 2, spentUsd: 0.000255, remainingUsd: 1.999745 },
    });
    expect(metered!.budget).toEqual(asSent(record!.budget));
    // The plain run is LangSmith's to price.
    for (const key of COST_KEYS) expect(metadataOf(tagged(runs, "plain")).usage).not.toHaveProperty(key);
  });

  test("MeteredChatModel stream: the usage chunk's cost reaches the run", async () => {
    const costs = recorder();
    fake.server.script({ usage: OPENAI_CALL }, { usage: OPENAI_CALL });
    const { message } = await collect(await fake.model({ onCost: costs.onCost }).stream("Hello", { callbacks: [ls.tracer], tags: ["metered"] }));
    const { message: plain } = await collect(await plainOpenAI().stream("Hello", { callbacks: [ls.tracer], tags: ["plain"] }));
    const runs = await ls.settle(2);
    const run = tagged(runs, "metered");
    const cost = costOnMessage(message)!;

    expect(cost.nanoUsd).toBe(255_000);
    expectCostOf(run, cost);
    const { usage, metered } = metadataOf(run);
    expect(usage).toEqual({ ...metadataOf(tagged(runs, "plain")).usage, ...OPENAI_FIELDS });
    expect(message.usage_metadata).toEqual(plain.usage_metadata);
    expectUntouchedUsage(message);
    expect(runMessage(run).response_metadata.cost).toEqual(cost);
    expect(metered).toMatchObject({ price_source: cost.priceSource, estimated: false });
    expect(metered!.budget).toEqual(asSent(costs.records[0]!.budget));
    expect(metered!.budget).toMatchObject({ decision: "allowed", limitUsd: 2, spentUsd: 0.000255 });
  });

  test("meter(ChatAnthropic) invoke: cache reads and writes are input-side details", async () => {
    anthropic().script({ usage: ANTHROPIC_CALL }, { usage: ANTHROPIC_CALL });
    const message = await meter(anthropicModel(anthropic())).invoke("Hello", { callbacks: [ls.tracer], tags: ["metered"] });
    const plain = await anthropicModel(anthropic()).invoke("Hello", { callbacks: [ls.tracer], tags: ["plain"] });
    const runs = await ls.settle(2);
    expectPricedBesidePlain(runs, message, plain, { nanoUsd: 46_350_000, fields: ANTHROPIC_FIELDS, spentUsd: 0.04635 });
  });

  test("meter(ChatAnthropic) stream", async () => {
    anthropic().script({ usage: ANTHROPIC_CALL }, { usage: ANTHROPIC_CALL });
    const { message } = await collect(await meter(anthropicModel(anthropic())).stream("Hello", { callbacks: [ls.tracer], tags: ["metered"] }));
    const { message: plain } = await collect(await anthropicModel(anthropic()).stream("Hello", { callbacks: [ls.tracer], tags: ["plain"] }));
    const runs = await ls.settle(2);
    expectPricedBesidePlain(runs, message, plain, { nanoUsd: 46_350_000, fields: ANTHROPIC_FIELDS, spentUsd: 0.04635 });
  });

  test("meter(ChatGoogleGenerativeAI) invoke: thinking is an output-side detail", async () => {
    gemini().script({ usage: GEMINI_CALL }, { usage: GEMINI_CALL });
    const message = await meter(geminiModel(gemini())).invoke("Hello", { callbacks: [ls.tracer], tags: ["metered"] });
    const plain = await geminiModel(gemini()).invoke("Hello", { callbacks: [ls.tracer], tags: ["plain"] });
    const runs = await ls.settle(2);
    expectPricedBesidePlain(runs, message, plain, { nanoUsd: 5_800_000, fields: GEMINI_FIELDS, spentUsd: 0.0058 });
  });

  test("meter(ChatGoogleGenerativeAI) stream", async () => {
    gemini().script({ usage: GEMINI_CALL }, { usage: GEMINI_CALL });
    const { message } = await collect(await meter(geminiModel(gemini())).stream("Hello", { callbacks: [ls.tracer], tags: ["metered"] }));
    const { message: plain } = await collect(await geminiModel(gemini()).stream("Hello", { callbacks: [ls.tracer], tags: ["plain"] }));
    const runs = await ls.settle(2);
    expectPricedBesidePlain(runs, message, plain, { nanoUsd: 5_800_000, fields: GEMINI_FIELDS, spentUsd: 0.0058 });
  });

  test("agent with a tool: every LLM run carries its own message's cost and the run budget's view", async () => {
    const costs = recorder();
    fake.server.setDefault(weatherAgentReply());
    const agent = createAgent({ model: fake.model({ onCost: costs.onCost }), tools: [getWeather] });
    const result = await agent.invoke(ask("Paris"), { callbacks: [ls.tracer] });
    const runs = await ls.settle(2);

    const messages = aiMessages(result.messages);
    expect(messages).toHaveLength(2);
    expect(costs.records).toHaveLength(2);
    // Paris: 100 in (40 cached) + 20 out, then 200 in + 10 out: 60 × 150 + 40 × 75 + 20 × 600 nano, then 200 × 150 + 10 × 600.
    expect(messages.map((m) => costOnMessage(m)!.nanoUsd)).toEqual([9_000 + 3_000 + 12_000, 30_000 + 6_000]);
    const trace = new Set(ls.receiver.runs().map((r) => r.trace_id));
    expect(trace.size).toBe(1); // one trace: the agent's
    for (const run of runs) {
      const own = runMessage(run).response_metadata.cost as Cost;
      const message = messages.find((m) => m.id === runMessage(run).id)!;
      expect(message, `run ${run.id}'s message is in the result`).toBeDefined();
      expect(own).toEqual(costOnMessage(message));
      expectCostOf(run, own);
      expectUntouchedUsage(message);
      expect(metadataOf(run).usage).toEqual({ ...message.usage_metadata, ...langSmithCost(own) });
      const record = costs.records.find((r) => r.runId === run.id);
      expect(record, `an onCost record for run ${run.id}`).toBeDefined();
      expect(metadataOf(run).metered).toEqual({ price_source: own.priceSource, estimated: false, budget: asSent(record!.budget) });
    }
    // The run's budget, after each call: the first call's cost, then both.
    const [first = NaN, second = NaN] = messages.map((m) => costOnMessage(m)!.nanoUsd);
    const spent = runs.map((run) => metadataOf(run).metered!.budget.spentUsd as number).sort((a, b) => a - b);
    expect(spent).toEqual([first / 1e9, (first + second) / 1e9]);
    for (const run of runs) {
      const budget = metadataOf(run).metered!.budget;
      expect(budget).toMatchObject({ decision: "allowed", limitUsd: 2 });
      expect(nano(budget.remainingUsd)).toBe(2e9 - nano(budget.spentUsd));
    }
    // Only LLM runs are priced: the agent's chain and tool runs carry no cost.
    for (const other of ls.receiver.runs().filter((r) => r.run_type !== "llm")) {
      expect(metadataOf(other).usage?.total_cost).toBeUndefined();
      expect(metadataOf(other).metered).toBeUndefined();
    }
  });

  test("a plain ChatOpenAI under a BudgetCallbackHandler: the run gets the cost the handler counted", async () => {
    // The hook is installed by the first metered model made in the process (the file's first test shows
    // what happens without one): made here, so this test holds whatever ran before it.
    fake.model();
    const budget = new BudgetCallbackHandler();
    fake.server.script({ usage: PLAIN_USAGE }, { usage: PLAIN_USAGE });
    const message = await plainOpenAI().invoke("Hello", { callbacks: [budget, ls.tracer] });
    // The tracer first this time: LangChain may end the run in the tracer before the budget has priced it.
    const { message: streamed } = await collect(await plainOpenAI().stream("Hello", { callbacks: [ls.tracer, budget] }));
    const runs = await ls.settle(2);

    expect(budget.records).toHaveLength(2);
    for (const [i, reply] of [message, streamed].entries()) {
      const record = budget.records[i]!;
      const run = runs.find((r) => r.id === record.runId);
      expect(run, `the run of record ${i}`).toBeDefined();
      expect(costOnMessage(reply)).toBeUndefined(); // a plain model's message has no cost of ours
      expectUntouchedUsage(reply);
      expect(record.cost.nanoUsd).toBe(450_000);
      expectCostOf(run, record.cost);
      expect(metadataOf(run).usage).toEqual({ ...(reply as AIMessage).usage_metadata, ...PLAIN_FIELDS });
      expect(metadataOf(run).metered).toEqual({ price_source: record.cost.priceSource, estimated: false, budget: asSent(record.budget) });
      expect(metadataOf(run).metered!.budget).toMatchObject({ decision: "allowed", limitUsd: 2, spentUsd: 0.00045 * (i + 1) });
    }
  });

  test("a plain ChatOpenAI with no budget handler: no cost fields (LangSmith prices it itself)", async () => {
    fake.server.script({ usage: OPENAI_CALL });
    fake.model(); // a metered model exists in the process: the tracer's hook is installed, and still no cost
    const message = await plainOpenAI().invoke("Hello", { callbacks: [ls.tracer] });
    const [run] = await ls.settle(1);

    expect(costOnMessage(message)).toBeUndefined();
    expect(metadataOf(run).usage).toEqual(message.usage_metadata); // token counts only
    for (const key of COST_KEYS) expect(metadataOf(run).usage).not.toHaveProperty(key);
    expect(metadataOf(run).metered).toBeUndefined();
  });

  test("a hard-capped call: the run's budget view says `clamped`, with the max tokens sent", async () => {
    const costs = recorder();
    fake.server.setDefault(billing({ outputTokens: 500 }));
    const model = fake.model({ model: "gpt-4o", budget: { limitUsd: 0.001, hardCap: true }, onCost: costs.onCost });
    const message = await model.invoke("Hello", { callbacks: [ls.tracer] });
    const [run] = await ls.settle(1);
    const cost = costOnMessage(message)!;

    expect(fake.server.requests.at(-1)?.body).toMatchObject({ max_tokens: 89 });
    expect(cost.nanoUsd).toBe(910_000);
    expectCostOf(run, cost);
    expect(metadataOf(run).usage).toMatchObject({ input_cost: 0.00002, output_cost: 0.00089, total_cost: 0.00091 });
    expectUntouchedUsage(message);
    const { metered } = metadataOf(run);
    expect(metered!.budget).toEqual({
      decision: "clamped",
      maxTokens: 89,
      reservedUsd: 0.0009925,
      limitUsd: 0.001,
      spentUsd: 0.00091,
      remainingUsd: 0.00009,
    });
    expect(metered!.budget).toEqual(asSent(costs.records[0]!.budget));
  });
});

describe("LangSmith: calls that stop the budget, come back without usage, or carry a reported cost (multipart)", () => {
  const ls = useLangSmith(MODES[1]!);

  it("the call whose cost crosses the budget ends in error: its run still carries that cost and `exceeded`", async () => {
    const costs = recorder();
    // $0.00045 a call, always asking for the tool again: the third call takes the spend ($0.00135) over $0.001.
    fake.server.setDefault({ usage: PLAIN_USAGE, toolCalls: [{ name: "get_weather", arguments: { city: "Paris" } }] });
    const agent = createAgent({ model: fake.model({ budget: { limitUsd: 0.001 }, onCost: costs.onCost }), tools: [getWeather] });
    const error = await agent.invoke(ask("Paris"), { callbacks: [ls.tracer] }).catch((e: unknown) => e);
    expect(BudgetExceededError.isInstance(error)).toBe(true);
    const runs = await ls.settle(3);

    expect(costs.records.map((r) => r.budget?.decision)).toEqual(["allowed", "allowed", "exceeded"]);
    const crossing = runs.find((run) => run.error !== undefined);
    expect(crossing, "the crossing call's run ended in error").toBeDefined();
    expect(costs.records[2]!.runId).toBe(crossing!.id);
    for (const run of runs.filter((r) => r !== crossing)) {
      const record = costs.records.find((r) => r.runId === run.id)!;
      expectCostOf(run, record.cost);
      expect(metadataOf(run).metered!.budget).toEqual(asSent(record.budget));
    }
    // The paid call that crossed the limit: LangSmith must see its $0.00045 and the budget's `exceeded`.
    expect(metadataOf(crossing).usage).toMatchObject(PLAIN_FIELDS);
    expectCostOf(crossing, costs.records[2]!.cost);
    expect(metadataOf(crossing).metered?.budget).toEqual({ decision: "exceeded", limitUsd: 0.001, spentUsd: 0.00135, remainingUsd: 0 });
  });

  it("a reply without usage: the run carries the estimate, marked estimated", async () => {
    const costs = recorder();
    fake.server.script({ usage: null }, { usage: null });
    const message = await fake.model({ onCost: costs.onCost }).invoke("Hello", { callbacks: [ls.tracer] });
    const plain = await plainOpenAI().invoke("Hello");
    const [run] = await ls.settle(1);
    const cost = costOnMessage(message)!;

    expect(cost).toMatchObject({ estimated: true, estimate: "no-usage" });
    expect(message.usage_metadata).toEqual(plain.usage_metadata); // counts undefined, as a plain ChatOpenAI leaves them
    expectUntouchedUsage(message);
    expectCostOf(run, cost);
    // 8 prompt tokens counted locally × $0.15/M + 6 answer tokens × $0.60/M = $0.0000012 + $0.0000036.
    expect(metadataOf(run).usage).toMatchObject({ input_cost: 0.0000012, output_cost: 0.0000036, total_cost: 0.0000048 });
    expect(metadataOf(run).metered).toEqual({ price_source: cost.priceSource, estimated: true, estimate: "no-usage", budget: asSent(costs.records[0]!.budget) });
    // The run shows the tokens the estimate priced, not 0 beside a cost (the message itself keeps none).
    expect(metadataOf(run).usage).toMatchObject({ input_tokens: 8, output_tokens: 6, total_tokens: 14 });
  });

  it("a cost the endpoint reported (LiteLLM's header, costSource `reported`): only total_cost, the reported figure", async () => {
    fake.server.script({ usage: PLAIN_USAGE, headers: { [LITELLM_COST_HEADER]: "0.00042" } });
    const message = await fake.model({ costSource: "reported" }).invoke("Hello", { callbacks: [ls.tracer] });
    const [run] = await ls.settle(1);
    const cost = costOnMessage(message)!;

    expect(cost).toMatchObject({ totalUsd: 0.00042, ourUsd: 0.00045, reportedUsd: 0.00042, counted: "reported" });
    // The report has no input/output split: LangSmith gets the total only, beside the token counts.
    expect(metadataOf(run).usage).toEqual({ ...message.usage_metadata, total_cost: 0.00042 });
    expectUntouchedUsage(message);
    expect(metadataOf(run).metered!.budget).toMatchObject({ decision: "allowed", spentUsd: 0.00042 });
  });
});

describe("LangSmith from the environment (LANGSMITH_TRACING, LANGSMITH_ENDPOINT, LANGSMITH_API_KEY)", () => {
  let receiver: LangSmithReceiver | undefined;
  beforeAll(async () => {
    receiver = await startLangSmithReceiver();
  });
  afterAll(async () => receiver?.close());

  it("LangChain adds the tracer itself; the run it sends carries the cost", async () => {
    vi.stubEnv("LANGSMITH_TRACING", "true");
    vi.stubEnv("LANGSMITH_ENDPOINT", receiver!.url);
    vi.stubEnv("LANGSMITH_API_KEY", "test");
    vi.stubEnv("LANGSMITH_PROJECT", "langchain-metered-env");
    // LangChain's default Client is a process-wide singleton made from the environment on first use, and
    // @langchain/core offers no way to reset it: nothing in this file may have made it before. Checked
    // here, before any call, so a stale singleton fails the test instead of tracing anywhere else.
    const client = new LangChainTracer().client as unknown as Client;
    expect((client as unknown as { apiUrl: string }).apiUrl).toBe(receiver!.url);

    const costs = recorder();
    fake.server.script({ usage: OPENAI_CALL });
    const message = await fake.model({ onCost: costs.onCost }).invoke("Hello"); // no callbacks given
    await awaitAllCallbacks();
    await client.flush();
    await client.awaitPendingTraceBatches();
    await receiver!.until(() => receiver!.endedLlmRuns().length === 1, { what: "the env-traced LLM run" });

    expect(receiver!.rejected).toEqual([]);
    const [run] = receiver!.endedLlmRuns();
    expect(run!.session_name).toBe("langchain-metered-env");
    const cost = costOnMessage(message)!;
    expectCostOf(run, cost);
    expect(metadataOf(run).usage).toEqual({ ...message.usage_metadata, ...OPENAI_FIELDS });
    expectUntouchedUsage(message);
    expect(metadataOf(run).metered).toEqual({ price_source: cost.priceSource, estimated: false, budget: asSent(costs.records[0]!.budget) });
  });
});

/**
 * The metered run of a pair (tagged "metered" and "plain", same call): its cost to the nano-dollar, the token
 * counts of the plain run plus the cost fields, the message untouched, and the budget's view.
 */
function expectPricedBesidePlain(
  runs: ReceivedRun[],
  message: BaseMessage,
  plain: BaseMessage,
  expected: { nanoUsd: number; fields: Record<string, unknown>; spentUsd: number },
): void {
  const run = tagged(runs, "metered");
  const cost = costOnMessage(message)!;
  expect(cost.nanoUsd).toBe(expected.nanoUsd);
  expectCostOf(run, cost);
  expect(metadataOf(run).usage).toEqual({ ...metadataOf(tagged(runs, "plain")).usage, ...expected.fields });
  expect((message as AIMessage).usage_metadata).toEqual((plain as AIMessage).usage_metadata);
  expectUntouchedUsage(message);
  expect(runMessage(run).response_metadata.cost).toEqual(cost);
  expect(metadataOf(run).metered).toMatchObject({ price_source: cost.priceSource, estimated: false, budget: { decision: "allowed", spentUsd: expected.spentUsd } });
}
