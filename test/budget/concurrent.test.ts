/**
 * Calls in flight when the budget is crossed: the crossing aborts the budget's signal, so concurrent
 * calls on the same budget stop at once, rejecting with the BudgetExceededError (not an AbortError), and
 * their HTTP requests are aborted. A user's own signal is still honoured, as an abort.
 */
import { describe, expect, it } from "vitest";
import { BudgetCallbackHandler, BudgetExceededError } from "../../src/index.js";
import type { ReplyFn } from "../support/openai-server.js";
import { eventually, meteredModel, rejectionOf, USAGE, useFakeOpenAI } from "./helpers.js";

const server = useFakeOpenAI();

const SLOW_MS = 8000;
/** The first request to arrive is answered after 50 ms; every other one would take 8 s. */
function firstFastOthersSlow(): ReplyFn {
  let arrived = 0;
  return () => ({ usage: USAGE, chunkDelayMs: arrived++ === 0 ? 50 : SLOW_MS });
}
const INPUTS = Array.from({ length: 8 }, (_, i) => `question ${i}`);

function expectAllStoppedByTheBudget(reasons: unknown[]) {
  for (const reason of reasons) {
    expect(BudgetExceededError.isInstance(reason)).toBe(true);
    expect((reason as Error).name).not.toBe("AbortError");
  }
}

describe("when the first call to finish crosses the limit", () => {
  it("stops concurrent invokes on the same handler, aborting their requests", async () => {
    server().setDefault(firstFastOthersSlow());
    const budget = new BudgetCallbackHandler({ limitUsd: 0.0001 }); // the first call alone ($0.00045) crosses
    const model = meteredModel(server());
    const started = Date.now();

    const results = await Promise.allSettled(INPUTS.map((input) => model.invoke(input, { callbacks: [budget] })));

    expect(Date.now() - started).toBeLessThan(SLOW_MS / 2);
    expect(results.every((r) => r.status === "rejected")).toBe(true);
    const reasons = results.map((r) => (r as PromiseRejectedResult).reason);
    expectAllStoppedByTheBudget(reasons);
    expect(reasons.filter((r) => (r as BudgetExceededError).stop === "exceeded")).toHaveLength(8);
    expect(server().requests).toHaveLength(8);
    expect(await eventually(() => server().requests.filter((r) => r.aborted).length === 7)).toBe(true);
    // The crossing call, priced from its usage, plus the seven cut short (estimated: they were sent).
    expect(budget.records).toHaveLength(8);
    expect(budget.records.filter((r) => r.estimated)).toHaveLength(7);
    expect(budget.records.find((r) => !r.estimated)?.cost.nanoUsd).toBe(450_000);
  });

  it("stops the rest of a model.batch() given the handler", async () => {
    server().setDefault(firstFastOthersSlow());
    const budget = new BudgetCallbackHandler({ limitUsd: 0.0001 });
    const model = meteredModel(server());
    const started = Date.now();

    const results = await model.batch(INPUTS, { callbacks: [budget] }, { returnExceptions: true });

    expect(Date.now() - started).toBeLessThan(SLOW_MS / 2);
    expect(results).toHaveLength(8);
    expectAllStoppedByTheBudget(results);
    expect(server().requests).toHaveLength(8);
    expect(await eventually(() => server().requests.filter((r) => r.aborted).length === 7)).toBe(true);
    expect(budget.signal.aborted).toBe(true);
  });

  it("stops concurrent streams on the same handler", async () => {
    server().setDefault(firstFastOthersSlow());
    const budget = new BudgetCallbackHandler({ limitUsd: 0.0001 });
    const model = meteredModel(server());
    const readAll = async (input: string) => {
      for await (const _ of await model.stream(input, { callbacks: [budget] })) void _;
    };

    const results = await Promise.allSettled(INPUTS.slice(0, 4).map(readAll));

    expectAllStoppedByTheBudget(results.map((r) => (r as PromiseRejectedResult).reason));
    expect(await eventually(() => server().requests.filter((r) => r.aborted).length === 3)).toBe(true);
  });
});

describe("a user's own signal", () => {
  it("aborts an invoke with an abort error, not a budget error", async () => {
    server().setDefault({ usage: USAGE, chunkDelayMs: SLOW_MS });
    const model = meteredModel(server(), { budget: { limitUsd: 1 } });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);

    const error = await rejectionOf(model.invoke("hi", { signal: controller.signal }));

    expect(BudgetExceededError.isInstance(error)).toBe(false);
    expect((error as Error).name).toBe("AbortError");
    expect(await eventually(() => server().requests.at(-1)?.aborted === true)).toBe(true);
  });

  it("aborts a stream with an abort error, and leaves an explicit budget usable", async () => {
    server().setDefault({ content: "word ".repeat(2000), chunkSize: 20, chunkDelayMs: 5 });
    const budget = new BudgetCallbackHandler({ limitUsd: 1 });
    const model = meteredModel(server());
    const controller = new AbortController();

    const error = await rejectionOf(
      (async () => {
        let chunks = 0;
        for await (const _ of await model.stream("hi", { signal: controller.signal, callbacks: [budget] })) {
          if (++chunks === 3) controller.abort();
        }
      })(),
    );

    expect(BudgetExceededError.isInstance(error)).toBe(false);
    expect((error as Error).name).toBe("AbortError");
    expect(budget.signal.aborted).toBe(false);
    server().setDefault({ usage: USAGE });
    await expect(model.invoke("again", { callbacks: [budget] })).resolves.toBeDefined();
  });
});
