/**
 * `withBudget(runnable, options)`: every invocation of the wrapped runnable gets a fresh
 * BudgetCallbackHandler, whose signal is merged with the caller's, and whose aborts surface as the
 * BudgetExceededError. Here over `createAgent` graphs (a looping tool agent) and over a bare model.
 *
 * The fake bills as OpenAI does (./hard-cap-billing.ts). The looping agent: every model reply calls the
 * `echo` tool again ({"x":"again"}: 6 output tokens), so only the budget ends the run. With gpt-4o and a
 * $0.002 limit a call costs a few hundred thousand nano-USD: the run stops after a handful of calls.
 *
 * Types: `withBudget` takes anything with `invoke` and `stream`, so what `createAgent` returns (a
 * `ReactAgent`, not a `Runnable` subclass) type-checks below as the README shows it.
 */
import { RunnableLambda } from "@langchain/core/runnables";
import { createAgent } from "langchain";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { BudgetCallbackHandler, BudgetExceededError, InvalidOptionsError, withBudget } from "../../src/index.js";
import { type Bill, billing, tokensOf } from "./hard-cap-billing.js";
import { echoTool, meteredModel, plainModel, rejectionOf, useFakeOpenAI, userMessage } from "./helpers.js";

const server = useFakeOpenAI();

const ECHO_CALL = [{ name: "echo", arguments: { x: "again" } }];
const LIMIT_USD = 0.002;
const LIMIT_NANO = 2_000_000;

/** A looping agent's replies, billed realistically; returns the bills. */
function loopingServer(): Bill[] {
  const bills: Bill[] = [];
  server().setDefault(billing({ toolCalls: ECHO_CALL, onBill: (bill) => bills.push(bill) }));
  return bills;
}
const billed = (bills: Bill[], filter: (bill: Bill) => boolean = () => true) =>
  bills.filter(filter).reduce((sum, bill) => sum + (bill.nanoUsd ?? NaN), 0);
/** For a plain model, LangChain's callback manager logs the handler's error before rethrowing it (README). */
function quietLangChainErrorLog(): void {
  beforeEach(() => void vi.spyOn(console, "error").mockImplementation(() => undefined));
  afterEach(() => void vi.restoreAllMocks());
}
const firstUserMessage = (bill: Bill) => (bill.req.body as { messages: Array<{ content: unknown }> }).messages[0]?.content;

it("the figures in the header (tokenizer sanity)", () => {
  expect(tokensOf("echo") + tokensOf(JSON.stringify({ x: "again" }))).toBe(6);
});

describe("withBudget over a createAgent graph with a MeteredChatModel, hardCap", () => {
  const agent = () =>
    withBudget(createAgent({ model: meteredModel(server(), { model: "gpt-4o" }), tools: [echoTool] }), { limitUsd: LIMIT_USD, hardCap: true });

  it("stops the loop by refusing the call that can't fit, never over the limit", async () => {
    const bills = loopingServer();
    const error = await rejectionOf(agent().invoke(userMessage("loop"), { recursionLimit: 100 }));

    expect(BudgetExceededError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ stop: "refused", limitUsd: LIMIT_USD });
    expect((error as BudgetExceededError).spentUsd).toBeLessThanOrEqual(LIMIT_USD);
    expect(bills.length).toBeGreaterThanOrEqual(2);
    expect(billed(bills)).toBeLessThanOrEqual(LIMIT_NANO);
    // The ledger (spentUsd on the error) is what the server billed.
    expect(Math.round((error as BudgetExceededError).spentUsd * 1e9)).toBe(billed(bills));
    // Every request went out with an explicit limit, lowered as the budget ran down.
    const limits = server().requests.map((r) => r.body.max_tokens as number);
    expect(limits.every((n) => Number.isInteger(n) && n >= 16)).toBe(true);
    expect([...limits].sort((a, b) => b - a)).toEqual(limits);
    expect(server().requests.some((r) => r.aborted)).toBe(false);
  });

  it("gives every invocation a fresh budget: two runs in a row make the same calls", async () => {
    const bills = loopingServer();
    const wrapped = agent();
    await rejectionOf(wrapped.invoke(userMessage("first"), { recursionLimit: 100 }));
    const first = bills.length;
    await rejectionOf(wrapped.invoke(userMessage("second"), { recursionLimit: 100 }));

    expect(first).toBeGreaterThanOrEqual(2);
    expect(bills.length).toBe(2 * first); // the second run was not refused up front
    expect(billed(bills, (b) => firstUserMessage(b) === "first")).toBeLessThanOrEqual(LIMIT_NANO);
    expect(billed(bills, (b) => firstUserMessage(b) === "second")).toBeLessThanOrEqual(LIMIT_NANO);
  });

  it("gives parallel invocations a budget each", async () => {
    const bills = loopingServer();
    const wrapped = agent();
    const results = await Promise.allSettled(["run A", "run B"].map((run) => wrapped.invoke(userMessage(run), { recursionLimit: 100 })));

    for (const result of results) expect((result as PromiseRejectedResult).reason).toMatchObject({ name: "BudgetExceededError", stop: "refused" });
    const byRun = (run: string) => bills.filter((b) => firstUserMessage(b) === run);
    expect(byRun("run A").length).toBe(byRun("run B").length);
    expect(billed(bills, (b) => firstUserMessage(b) === "run A")).toBeLessThanOrEqual(LIMIT_NANO);
    expect(billed(bills, (b) => firstUserMessage(b) === "run B")).toBeLessThanOrEqual(LIMIT_NANO);
  });

  it("stream(): the run stops with the BudgetExceededError too", async () => {
    const bills = loopingServer();
    const stream = await agent().stream(userMessage("loop"), { recursionLimit: 100 });
    const error = await rejectionOf(
      (async () => {
        for await (const _ of stream) void _;
      })(),
    );
    expect(error).toMatchObject({ name: "BudgetExceededError", stop: "refused" });
    expect(billed(bills)).toBeLessThanOrEqual(LIMIT_NANO);
  });

  it("over agent.graph (the compiled graph, a Runnable) too", async () => {
    const bills = loopingServer();
    const graph = createAgent({ model: meteredModel(server(), { model: "gpt-4o" }), tools: [echoTool] }).graph;
    const error = await rejectionOf(withBudget(graph, { limitUsd: LIMIT_USD, hardCap: true }).invoke(userMessage("loop"), { recursionLimit: 100 }));
    expect(error).toMatchObject({ name: "BudgetExceededError", stop: "refused" });
    expect(billed(bills)).toBeLessThanOrEqual(LIMIT_NANO);
  });

  it("replaces a budget handler the caller passes, and keeps the caller's other callbacks", async () => {
    loopingServer();
    const callers = new BudgetCallbackHandler({ limitUsd: 100 });
    let ends = 0;
    const counter = { handleLLMEnd: () => void ends++ };
    await rejectionOf(agent().invoke(userMessage("loop"), { recursionLimit: 100, callbacks: [callers, counter] }));
    expect(callers.records).toHaveLength(0);
    expect(ends).toBe(server().requests.length);
  });
});

describe("withBudget over a createAgent graph with a plain ChatOpenAI", () => {
  quietLangChainErrorLog();
  const agent = (hardCap: boolean) =>
    withBudget(createAgent({ model: plainModel(server(), "gpt-4o"), tools: [echoTool] }), { limitUsd: LIMIT_USD, hardCap });

  it("stops the loop after the call that crosses the limit (no hardCap)", async () => {
    const bills = loopingServer();
    const error = await rejectionOf(agent(false).invoke(userMessage("loop"), { recursionLimit: 100 }));
    expect(error).toMatchObject({ name: "BudgetExceededError", stop: "exceeded", limitUsd: LIMIT_USD });
    expect((error as BudgetExceededError).spentUsd).toBeGreaterThan(LIMIT_USD);
    expect(Math.round((error as BudgetExceededError).spentUsd * 1e9)).toBe(billed(bills));
  });

  it("gives every invocation a fresh budget", async () => {
    const bills = loopingServer();
    const wrapped = agent(false);
    await rejectionOf(wrapped.invoke(userMessage("first"), { recursionLimit: 100 }));
    const first = bills.length;
    await rejectionOf(wrapped.invoke(userMessage("second"), { recursionLimit: 100 }));
    expect(bills.length).toBe(2 * first);
  });

  // Regression guard (was a bug in src/budget/budget-handler.ts, `handleChatModelStart`): for a call that is not a MeteredChatModel
  // call, the handler only `begin`s it; `reserve` is never called, so `hardCap: true` does nothing for a
  // plain ChatOpenAI (or any other chat model): no reservation, no refusal of a call whose worst case
  // doesn't fit, and the request carries no max tokens. The run ends as without a hard cap, over the
  // limit, although `withBudget`'s doc promises "at most $0.50, per invocation" for any runnable, and
  // `hardCap`'s doc says "Never let spend cross the limit". A callback can't lower a plain model's max
  // tokens, but it can reserve and refuse: fix by calling `reserve` from `handleChatModelStart` under a
  // hard cap, with the request's own limit (invocation_params max_tokens / max_completion_tokens /
  // max_output_tokens, `n`), and refusing when that limit is absent or can't be paid for in full
  // (or reject hardCap for non-metered models loudly); at least document that hardCap needs
  // MeteredChatModel.
  it("hardCap: never spends over the limit", async () => {
    const bills = loopingServer();
    const error = await rejectionOf(agent(true).invoke(userMessage("loop"), { recursionLimit: 100 }));
    expect(BudgetExceededError.isInstance(error)).toBe(true);
    expect(billed(bills)).toBeLessThanOrEqual(LIMIT_NANO);
  });
});

describe("withBudget over a bare model", () => {
  quietLangChainErrorLog();
  // gpt-4o, "Hello", $0.001: max_tokens 89 (see hard-cap.test.ts).
  it("each invoke, and each input of a batch, gets the whole budget", async () => {
    server().setDefault(billing({ outputTokens: 500 }));
    const model = withBudget(meteredModel(server(), { model: "gpt-4o" }), { limitUsd: 0.001, hardCap: true });
    await model.invoke("Hello");
    await model.invoke("Hello");
    await model.batch(["Hello", "Hello"]);
    expect(server().requests.map((r) => r.body.max_tokens)).toEqual([89, 89, 89, 89]);
  });

  it("a refused invocation does not poison the next one", async () => {
    server().setDefault(billing({ outputTokens: 500 }));
    const model = withBudget(meteredModel(server(), { model: "gpt-4o" }), { limitUsd: 0.001, hardCap: true });
    const long = "word ".repeat(2_000); // ≈ 2,000 tokens: 2,000 × 1.1 × 2,500 > $0.001 before any output
    expect(await rejectionOf(model.invoke(long))).toMatchObject({ name: "BudgetExceededError", stop: "refused" });
    await model.invoke("Hello");
    expect(server().requests.map((r) => r.body.max_tokens)).toEqual([89]);
  });

  it("a caller's abort is reported as the caller's abort, not as the budget's", async () => {
    server().setDefault(billing({ outputTokens: 10, chunkDelayMs: 5_000 }));
    const model = withBudget(meteredModel(server(), { model: "gpt-4o" }), { limitUsd: 1, hardCap: true });
    const caller = new AbortController();
    setTimeout(() => caller.abort(), 50);
    const error = await rejectionOf(model.invoke("Hello", { signal: caller.signal }));
    expect(BudgetExceededError.isInstance(error)).toBe(false);
  });

  it("an abort the budget causes in a call that isn't a MeteredChatModel call surfaces as the BudgetExceededError", async () => {
    // Two plain calls in one invocation: the fast one crosses the limit and aborts the slow one in flight.
    let arrived = 0;
    server().setDefault((req) => billing({ outputTokens: 500, chunkDelayMs: arrived++ === 0 ? 20 : 5_000 })(req));
    const plain = plainModel(server(), "gpt-4o");
    const both = RunnableLambda.from(async (input: string, config) => Promise.all([plain.invoke(input, config), plain.invoke(input, config)]));
    const started = Date.now();
    const error = await rejectionOf(withBudget(both, { limitUsd: 0.001 }).invoke("Hello"));
    expect(BudgetExceededError.isInstance(error)).toBe(true);
    expect(Date.now() - started).toBeLessThan(2_500);
  });

  it("validates its options when it wraps, not at the first invocation", () => {
    expect(() => withBudget(meteredModel(server()), { limitUsd: -1 })).toThrow(InvalidOptionsError);
  });
});
