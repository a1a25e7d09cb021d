/**
 * BudgetCallbackHandler on its own: it prices ANY chat model's calls (here a plain ChatOpenAI, which only
 * reaches it through callbacks), keeps the accounts, and refuses calls once the budget is spent.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { BudgetCallbackHandler, BudgetExceededError, InvalidOptionsError, PriceOverrideError } from "../../src/index.js";
import { CALL_NANO, meteredModel, plainModel, rejectionOf, USAGE, useFakeOpenAI } from "./helpers.js";

const server = useFakeOpenAI();

/** LangChain logs "Error in handler ..." through console.error when a handler of a plain model throws. */
function silenceHandlerErrors() {
  return vi.spyOn(console, "error").mockImplementation(() => {});
}
afterEach(() => vi.restoreAllMocks());

describe("BudgetCallbackHandler", () => {
  it("defaults to a $2 limit, nothing spent and an unaborted signal", () => {
    const budget = new BudgetCallbackHandler();
    expect(budget.limitUsd).toBe(2);
    expect(budget.spentUsd).toBe(0);
    expect(budget.remainingUsd).toBe(2);
    expect(budget.records).toEqual([]);
    expect(budget.signal.aborted).toBe(false);
  });

  it("rejects a negative or non-finite limit", () => {
    expect(() => new BudgetCallbackHandler({ limitUsd: -1 })).toThrow(InvalidOptionsError);
    expect(() => new BudgetCallbackHandler({ limitUsd: Number.NaN })).toThrow(InvalidOptionsError);
  });

  it("prices a plain ChatOpenAI's calls passed to it as callbacks, one record per call", async () => {
    server().setDefault({ usage: USAGE });
    const budget = new BudgetCallbackHandler({ limitUsd: 1 });
    const model = plainModel(server());

    await model.invoke("one", { callbacks: [budget] });
    await model.invoke("two", { callbacks: [budget] });

    expect(budget.spentUsd).toBe(0.0009);
    expect(budget.remainingUsd).toBe(0.9991);
    expect(budget.records).toHaveLength(2);
    const [record] = budget.records;
    expect(record).toMatchObject({
      model: "gpt-4o-mini",
      estimated: false,
      usage: { inputTokens: 1000, outputTokens: 500 },
      cost: { nanoUsd: CALL_NANO, totalUsd: 0.00045 },
    });
    expect(typeof record?.runId).toBe("string");
    expect(budget.records[0]?.runId).not.toBe(budget.records[1]?.runId);
  });

  it("throws BudgetExceededError from the plain model's call that crosses, and aborts its signal with it", async () => {
    silenceHandlerErrors();
    server().setDefault({ usage: USAGE });
    const budget = new BudgetCallbackHandler({ limitUsd: 0.001 });
    const model = plainModel(server());

    await model.invoke("1", { callbacks: [budget] }); // $0.00045
    await model.invoke("2", { callbacks: [budget] }); // $0.0009, still within $0.001
    expect(budget.signal.aborted).toBe(false);
    const error = await rejectionOf(model.invoke("3", { callbacks: [budget] })); // $0.00135: crosses

    expect(BudgetExceededError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ stop: "exceeded", spentUsd: 0.00135, limitUsd: 0.001 });
    expect(budget.spentUsd).toBe(0.00135); // the crossing call was paid for, so it is counted
    expect(budget.remainingUsd).toBe(0);
    expect(budget.records).toHaveLength(3);
    expect(budget.signal.aborted).toBe(true);
    expect(budget.signal.reason).toBe(error);
    expect(server().requests).toHaveLength(3);
  });

  it("refuses a plain model's call once the budget is spent, without sending it", async () => {
    silenceHandlerErrors();
    server().setDefault({ usage: USAGE });
    const budget = new BudgetCallbackHandler({ limitUsd: 0.0004 });
    const model = plainModel(server());
    await rejectionOf(model.invoke("crosses", { callbacks: [budget] }));
    const sent = server().requests.length;

    const error = await rejectionOf(model.invoke("refused", { callbacks: [budget] }));

    expect(BudgetExceededError.isInstance(error)).toBe(true);
    expect((error as BudgetExceededError).stop).toBe("refused");
    expect(server().requests.length).toBe(sent);
    expect(budget.records).toHaveLength(1);
  });

  it("refuses every call of a MeteredChatModel when reused after it was exhausted, sending nothing", async () => {
    server().setDefault({ usage: USAGE });
    const budget = new BudgetCallbackHandler({ limitUsd: 0.0004 });
    const model = meteredModel(server(), { budget: { limitUsd: 5 } });
    expect(await rejectionOf(model.invoke("crosses", { callbacks: [budget] }))).toMatchObject({ stop: "exceeded" });
    const sent = server().requests.length;

    for (const input of ["again", "and again"]) {
      const error = await rejectionOf(model.invoke(input, { callbacks: [budget] }));
      expect(error).toMatchObject({ name: "BudgetExceededError", stop: "refused" });
    }
    const streamed = await rejectionOf(
      (async () => {
        for await (const _ of await model.stream("streamed", { callbacks: [budget] })) void _;
      })(),
    );
    expect(streamed).toMatchObject({ stop: "refused" });
    expect(server().requests.length).toBe(sent);
    expect(budget.spentUsd).toBe(0.00045);
  });

  it("prices a model genai-prices does not know with its `prices` option", async () => {
    server().setDefault({ usage: USAGE });
    // 1000 × $1/1M + 500 × $2/1M = $0.001 + $0.001 = $0.002
    const budget = new BudgetCallbackHandler({ prices: { "acme-chat-1": { input: 1, output: 2 } } });
    await plainModel(server(), "acme-chat-1").invoke("hi", { callbacks: [budget] });
    expect(budget.spentUsd).toBe(0.002);
    expect(budget.records[0]?.cost.nanoUsd).toBe(2_000_000);
  });

  it("rejects invalid `prices` at construction", () => {
    expect(() => new BudgetCallbackHandler({ prices: { m: { input: -1, output: 1 } } })).toThrow(PriceOverrideError);
  });

  // A float `limitUsd - spentUsd` would give 0.00010000000000000005 here.
  it("reports remainingUsd exactly, like spentUsd", async () => {
    server().setDefault({ usage: USAGE });
    const budget = new BudgetCallbackHandler({ limitUsd: 0.001 });
    const model = plainModel(server());
    await model.invoke("1", { callbacks: [budget] });
    await model.invoke("2", { callbacks: [budget] });
    expect(budget.spentUsd).toBe(0.0009);
    expect(budget.remainingUsd).toBe(0.0001);
  });
});
