/**
 * Streams: a stream whose running cost crosses the limit stops mid-way with BudgetExceededError, before
 * its end; what it received is paid for and recorded (estimated), and its HTTP request is aborted.
 *
 * Figures: gpt-4o ($2.50/1M in, $10/1M out); the reply is "word " × 5000 = 25,000 characters in 1,250
 * deltas of 20, for which the fake server reports 6,250 output tokens: $0.0625 in all. A $0.001 limit is
 * crossed after ~100 output tokens, a few dozen deltas in.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { BudgetCallbackHandler, BudgetExceededError } from "../../src/index.js";
import type { FakeOpenAI } from "../support/openai-server.js";
import { eventually, meteredModel, plainModel, rejectionOf, useFakeOpenAI } from "./helpers.js";

const server = useFakeOpenAI();
afterEach(() => vi.restoreAllMocks());

const LONG_REPLY = { content: "word ".repeat(5000), chunkSize: 20, chunkDelayMs: 1 };
const TOTAL_DELTAS = 1250;
const FULL_COST_USD = 0.0625;

/** Reads a stream to its end or its error; returns how many chunks came and what it threw. */
async function drain(stream: AsyncIterable<unknown>): Promise<{ chunks: number; error: unknown }> {
  let chunks = 0;
  try {
    for await (const _ of stream) chunks++;
  } catch (error) {
    return { chunks, error };
  }
  return { chunks, error: undefined };
}

async function lastRequestAborted(fake: FakeOpenAI): Promise<boolean> {
  return eventually(() => fake.requests.at(-1)?.aborted === true);
}

describe("model.stream() whose running cost crosses the limit", () => {
  it("stops before the end with BudgetExceededError, records the partial cost and aborts the request", async () => {
    server().setDefault(LONG_REPLY);
    const budget = new BudgetCallbackHandler({ limitUsd: 0.001 });
    const model = meteredModel(server(), { model: "gpt-4o" });

    const { chunks, error } = await drain(await model.stream("write a lot", { callbacks: [budget] }));

    expect(BudgetExceededError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ stop: "exceeded", limitUsd: 0.001 });
    expect(chunks).toBeGreaterThan(0);
    expect(chunks).toBeLessThan(TOTAL_DELTAS / 2);
    expect(budget.records).toHaveLength(1);
    const [record] = budget.records;
    expect(record?.estimated).toBe(true);
    expect(record?.model).toBe("gpt-4o");
    expect(record?.cost.totalUsd).toBeGreaterThan(0.001);
    expect(record?.cost.totalUsd).toBeLessThan(FULL_COST_USD / 10);
    expect(budget.spentUsd).toBe(record?.cost.totalUsd);
    expect((error as BudgetExceededError).spentUsd).toBe(budget.spentUsd);
    expect(budget.signal.reason).toBe(error);
    expect(await lastRequestAborted(server())).toBe(true);
  });

  it("stops under the model's own per-run budget too", async () => {
    server().setDefault(LONG_REPLY);
    const model = meteredModel(server(), { model: "gpt-4o", budget: { limitUsd: 0.001 } });

    const { chunks, error } = await drain(await model.stream("write a lot"));

    expect(BudgetExceededError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ stop: "exceeded", scope: "run", limitUsd: 0.001 });
    expect((error as BudgetExceededError).spentUsd).toBeGreaterThan(0.001);
    expect((error as BudgetExceededError).spentUsd).toBeLessThan(FULL_COST_USD / 10);
    expect(chunks).toBeLessThan(TOTAL_DELTAS / 2);
    expect(await lastRequestAborted(server())).toBe(true);
  });

  it("stops a plain ChatOpenAI's stream through the handler's callbacks", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {}); // LangChain logs the handler's throw
    server().setDefault(LONG_REPLY);
    const budget = new BudgetCallbackHandler({ limitUsd: 0.001 });

    const { chunks, error } = await drain(await plainModel(server(), "gpt-4o").stream("write a lot", { callbacks: [budget] }));

    expect(BudgetExceededError.isInstance(error)).toBe(true);
    expect(chunks).toBeLessThan(TOTAL_DELTAS / 2);
    expect(budget.records).toHaveLength(1);
    expect(budget.records[0]?.estimated).toBe(true);
    expect(budget.spentUsd).toBeGreaterThan(0.001);
    expect(await lastRequestAborted(server())).toBe(true);
  });

  it("is not stopped when the whole reply fits, and is priced from its usage", async () => {
    server().setDefault({ ...LONG_REPLY, chunkDelayMs: 0 });
    const budget = new BudgetCallbackHandler({ limitUsd: 1 });
    const model = meteredModel(server(), { model: "gpt-4o" });

    const { chunks, error } = await drain(await model.stream("write a lot", { callbacks: [budget] }));

    expect(error).toBeUndefined();
    expect(chunks).toBeGreaterThanOrEqual(TOTAL_DELTAS);
    expect(budget.records).toHaveLength(1);
    expect(budget.records[0]?.estimated).toBe(false);
    expect(budget.records[0]?.usage.outputTokens).toBe(6250);
    expect(server().requests.at(-1)?.aborted).toBe(false);
  });
});

describe("a stream the consumer stops reading", () => {
  // Regression guard (was a bug in src/model/metered-chat-model.ts, `_streamResponseChunks`): when the consumer breaks out of the
  // loop, the generator is closed and its `finally` only *reports* the partial cost to `onCost`; it is
  // never charged to the budget (no `settleCutShort`: that runs only for abort errors, in
  // BudgetScope.failed), and the call stays in the handler's `inFlight` map (and, under hardCap, keeps
  // its reservation). A loop of streams broken off early therefore spends without limit. Fix: in that
  // `finally`, when `!priced`, await a BudgetScope method that calls `handler.settleCutShort(call)`
  // (it already ignores calls settled by `observe`), swallowing the budget error. `_streamChatModelEvents`
  // has no `finally` at all and needs the same.
  it("is still charged to the budget for what it received", async () => {
    server().setDefault(LONG_REPLY);
    const budget = new BudgetCallbackHandler({ limitUsd: 1 });
    const reported: number[] = [];
    const model = meteredModel(server(), { model: "gpt-4o", onCost: (r) => reported.push(r.cost.nanoUsd) });

    let chunks = 0;
    for await (const _ of await model.stream("write a lot", { callbacks: [budget] })) if (++chunks === 5) break;

    expect(await eventually(() => reported.length === 1)).toBe(true); // onCost does get the partial cost
    expect(await eventually(() => budget.records.length === 1, 500)).toBe(true);
    expect(budget.spentUsd * 1e9).toBeCloseTo(reported[0] ?? 0, 0);
  });
});
