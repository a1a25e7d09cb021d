/**
 * A faulted call whose conservative charge takes the budget over its limit (no hard cap): the call is still
 * counted once, the caller learns what happened to it, and the run's next call is refused before it is sent
 * with a `BudgetExceededError`. A model's own budget is per run: the two calls run inside one RunnableLambda.
 *
 * Figures (support.ts, nano-USD): a reset after 10 words is charged 41 × 150 + 10 × 600 = 12,150 on a stream
 * (limit 10,000), 41 × 150 = 6,150 on an invoke, which received nothing (limit 5,000); string usage is charged
 * 41 × 150 + 50 × 600 = 36,150 (limit 33,000). Each limit is above what a stream received before its fault
 * (8 × 150 + 10 × 600 = 7,200; 8 × 150 + 50 × 600 = 31,200), so the budget's own watch doesn't stop it first.
 */
import { RunnableLambda } from "@langchain/core/runnables";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { BudgetExceededError } from "../../src/index.js";
import { startFakeOpenAI } from "../support/openai-server.js";
import { type ErrorCheck, INVALID_USAGE, TERMINATED } from "./cases.js";
import { call, describeError, type Mode, type Outcome, type Path, quietHandlerErrors, reply, settledAudit, warmTokenizer, within, world } from "./support.js";

beforeAll(async () => {
  await warmTokenizer();
  quietHandlerErrors();
}, 30_000);
afterAll(() => vi.restoreAllMocks());

const BUDGET_EXCEEDED = (stop: "exceeded" | "refused"): ErrorCheck => ({
  label: `BudgetExceededError (${stop})`,
  test: (e) => BudgetExceededError.isInstance(e) && e.stop === stop,
});

const FAULTS = [
  // The call that crosses reports its own failure; the budget's stop comes with the next call.
  {
    name: "reset-mid-stream",
    reply: reply({ fault: "reset-mid-stream", faultAfterChunks: 11 }),
    first: (_path: Path) => TERMINATED,
    limitNano: (mode: Mode) => (mode === "stream" ? 10_000 : 5_000),
    charged: (mode: Mode) => (mode === "stream" ? 12_150 : 6_150),
  },
  // An answer whose usage can't be priced is charged: the metered model's caller hears that (an
  // InvalidUsageError with what was charged), as any failed call; a plain model's answer crosses in the handler.
  {
    name: "string usage",
    reply: reply({ rawUsage: { prompt_tokens: "8", completion_tokens: "50", total_tokens: "58" } }),
    first: (path: Path) => (path.budgeting === "own" ? INVALID_USAGE : BUDGET_EXCEEDED("exceeded")),
    limitNano: () => 33_000,
    charged: () => 36_150,
  },
];

const PATHS: Path[] = (["own", "plain"] as const).flatMap((budgeting) => (["invoke", "stream"] as const).map((mode: Mode) => ({ api: "chat" as const, mode, budgeting })));

describe.each(FAULTS)("$name crosses the limit", (fault) => {
  it.each(PATHS.map((path) => ({ path, name: `${path.budgeting} ${path.mode}` })))("$name", async ({ path }) => {
    const server = await startFakeOpenAI({ defaultReply: reply() });
    try {
      server.script(fault.reply);
      const w = world(server, path, {}, { limitUsd: fault.limitNano(path.mode) / 1e9 });
      const calls = async (): Promise<Outcome[]> => [await call(w), await call(w)];
      // A model's own budget is the run's: both calls inside one run.
      const [faulted, next] = await within(path.budgeting === "own" ? RunnableLambda.from(calls).invoke(null) : calls(), 5_000, "the calls");
      const wanted = fault.first(path);
      expect(wanted.test(faulted?.error), `expected ${wanted.label}, got ${describeError(faulted?.error)}`).toBe(true);
      expect(BUDGET_EXCEEDED("refused").test(next?.error), describeError(next?.error)).toBe(true);

      const a = await settledAudit(server, w);
      const charged = fault.charged(path.mode);
      expect(server.requests).toHaveLength(1); // the refused call was never sent
      expect({ lines: a.lines, charged: a.linesNano, store: a.storeNano, held: a.storeHeldNano + a.handlerHeldNano }).toEqual({
        lines: 1,
        charged,
        store: charged,
        held: 0,
      });
      if (a.onCostNano >= 0) expect(a.onCostNano).toBe(charged);
      if (a.records >= 0) expect(a.records).toBe(1); // the handler keeps the refusal too, uncharged
    } finally {
      await server.close();
    }
  });
});
