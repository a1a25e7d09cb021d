/**
 * Enforcement and what it throws: the call whose cost crosses the limit throws a final (non-retryable,
 * 402) BudgetExceededError that says what was spent and how to raise the limit; once spend has reached
 * the limit, every later call is refused before it is sent.
 */
import { getRetryable } from "@langchain/core/errors";
import { describe, expect, it } from "vitest";
import { BudgetCallbackHandler, BudgetExceededError, MeteredError } from "../../src/index.js";
import { meteredModel, rejectionOf, USAGE, useFakeOpenAI } from "./helpers.js";

const server = useFakeOpenAI();

describe("the call that crosses the limit", () => {
  it("throws a BudgetExceededError that keeps what was spent", async () => {
    server().setDefault({ usage: USAGE });
    const budget = new BudgetCallbackHandler({ limitUsd: 0.001 });
    const model = meteredModel(server());
    await model.invoke("1", { callbacks: [budget] });
    await model.invoke("2", { callbacks: [budget] });

    const error = await rejectionOf(model.invoke("3", { callbacks: [budget] }));

    expect(BudgetExceededError.isInstance(error)).toBe(true);
    expect(MeteredError.isInstance(error)).toBe(true);
    expect(error).toBeInstanceOf(BudgetExceededError);
    const e = error as BudgetExceededError;
    expect(e.name).toBe("BudgetExceededError");
    expect(e.stop).toBe("exceeded");
    expect(e.status).toBe(402);
    expect(e.limitUsd).toBe(0.001);
    expect(e.spentUsd).toBe(0.00135); // three calls: the crossing one was paid for too
    expect(e.scope).toBe("run");
    expect(server().requests).toHaveLength(3); // it was sent: its cost is only known after
  });

  it("says what was spent, the limit, and how to raise it", async () => {
    server().setDefault({ usage: USAGE });
    const error = await rejectionOf(meteredModel(server(), { budget: { limitUsd: 0.0002 } }).invoke("hi"));
    const { message } = error as BudgetExceededError;
    expect(message).toContain("$0.00045");
    expect(message).toContain("$0.0002");
    expect(message).toContain("budget: { limitUsd }");
    expect(message).toContain("new BudgetCallbackHandler({ limitUsd })");
  });

  it("is stamped not retryable, and a model with retries does not resend it", async () => {
    server().setDefault({ usage: USAGE });
    const model = meteredModel(server(), { maxRetries: 3, budget: { limitUsd: 0.0002 } });
    const error = await rejectionOf(model.invoke("hi"));
    expect(BudgetExceededError.isInstance(error)).toBe(true);
    expect(getRetryable(error)).toBe(false);
    expect(server().requests).toHaveLength(1);
  });
});

describe("a call made once spend has reached the limit", () => {
  it("is refused before it is sent, with the spend it found", async () => {
    server().setDefault({ usage: USAGE });
    const budget = new BudgetCallbackHandler({ limitUsd: 0.0004 });
    const model = meteredModel(server());
    await rejectionOf(model.invoke("crosses", { callbacks: [budget] }));
    const sent = server().requests.length;

    const error = await rejectionOf(model.invoke("refused", { callbacks: [budget] }));

    expect(BudgetExceededError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ stop: "refused", status: 402, limitUsd: 0.0004, spentUsd: 0.00045, scope: "run" });
    expect((error as Error).message).toMatch(/^Call refused/);
    expect(getRetryable(error)).toBe(false);
    expect(server().requests.length).toBe(sent);
  });

  it("is refused when spend lands exactly on the limit, though that call itself did not cross", async () => {
    server().setDefault({ usage: USAGE });
    const budget = new BudgetCallbackHandler({ limitUsd: 0.0009 }); // exactly two calls
    const model = meteredModel(server());
    await model.invoke("1", { callbacks: [budget] });
    await model.invoke("2", { callbacks: [budget] }); // $0.0009 = the limit: not over, so no error
    expect(budget.spentUsd).toBe(0.0009);
    expect(budget.remainingUsd).toBe(0);
    expect(budget.signal.aborted).toBe(false);

    const error = await rejectionOf(model.invoke("3", { callbacks: [budget] }));
    expect(error).toMatchObject({ name: "BudgetExceededError", stop: "refused", spentUsd: 0.0009 });
    expect(server().requests).toHaveLength(2);
  });
});

describe("BudgetExceededError.isInstance", () => {
  it("tells budget errors from other errors", () => {
    const error = new BudgetExceededError({ limitUsd: 1, spentUsd: 1.5, scope: "run", stop: "exceeded" });
    expect(BudgetExceededError.isInstance(error)).toBe(true);
    expect(BudgetExceededError.isInstance(new Error("Budget exceeded"))).toBe(false);
    expect(BudgetExceededError.isInstance({ name: "BudgetExceededError", status: 402 })).toBe(false);
    expect(BudgetExceededError.isInstance(undefined)).toBe(false);
  });
});

describe("a refusal says whether held or spent money kept the call out", () => {
  it.each([
    {
      name: "held money (a hard cap's holds of calls in flight)",
      fields: { limitUsd: 0.005, spentUsd: 0.0018, heldUsd: 0.003, scope: "tenant:globex", stop: "refused", quota: true, neededUsd: 0.0025, waitedMs: 1500 },
      says: 'Call refused: the quota "tenant:globex" can\'t fit this call (its worst case is $0.0025): $0.0018 spent and $0.003 held by calls in flight, of its $0.005 limit; it waited 1.5 s for them to end.',
    },
    {
      name: "spent money",
      fields: { limitUsd: 0.005, spentUsd: 0.005, heldUsd: 0, scope: "run", stop: "refused" },
      says: "Call refused: the run budget is spent: $0.005 of its $0.005 limit.",
    },
  ] as const)("$name", ({ fields, says }) => {
    const error = new BudgetExceededError(fields);
    expect(error.message.startsWith(says)).toBe(true);
    expect(error).toMatchObject({ heldUsd: fields.heldUsd, spentUsd: fields.spentUsd, quota: "quota" in fields });
  });
});
