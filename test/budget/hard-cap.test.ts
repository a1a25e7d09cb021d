/**
 * The hard cap (`hardCap: true`): before a call is sent its worst case is reserved, its max tokens are
 * lowered to what the budget can pay for, and it is refused (with no HTTP request) when even a short
 * answer doesn't fit. The fake server bills as OpenAI does (./hard-cap-billing.ts) and honours the limit.
 *
 * The figures every test reasons with (worked by hand; nano-USD = 1e-9 USD):
 * - Prompt "Hello": counted locally as 3 (reply priming) + 3 (message) + 1 ("human") + 1 ("Hello") = 8
 *   tokens; the server bills the same 8 (3 + 3 + "user" + "Hello"). With the safety margin a reservation
 *   assumes ceil(8 × 1.1) + 32 = 41 input tokens.
 * - Prices per token: gpt-4o 2,500 in / 10,000 out; gpt-4o-mini 150 / 600; o3-mini 1,100 / 4,400;
 *   gpt-5-mini 250 / 2,000.
 * - A call with room is planned from a cheap bound first, its bytes (a token is at least one byte): 3 + 3 +
 *   5 ("human") + 5 ("Hello") = 16, with the margin ceil(16 × 1.1) + 32 = 50 input tokens; tokens are counted
 *   (41 with the margin) only when that bound would not leave the call its full answer.
 * - gpt-4o under a $0.001 (1,000,000) limit: input 41 × 2,500 = 102,500; output (1,000,000 − 102,500) /
 *   10,000 = 89.75 → 89 tokens; reserved 102,500 + 890,000 = 992,500 ($0.0009925). The call that writes
 *   its 89 tokens costs 8 × 2,500 + 89 × 10,000 = 20,000 + 890,000 = 910,000 ($0.00091).
 */
import { ChatOpenAICompletions, ChatOpenAIResponses } from "@langchain/openai";
import { Tiktoken } from "js-tiktoken/lite";
import { describe, expect, it, vi } from "vitest";
import { BudgetCallbackHandler, BudgetExceededError, type CostRecord } from "../../src/index.js";
import { billing, tokensOf } from "./hard-cap-billing.js";
import { eventually, meteredModel, rejectionOf, useFakeOpenAI } from "./helpers.js";

const server = useFakeOpenAI();

const PROMPT = "Hello";
const capped = (limitUsd: number) => new BudgetCallbackHandler({ limitUsd, hardCap: true });
const lastBody = () => server().requests.at(-1)?.body as Record<string, unknown>;
const viewOf = (record: CostRecord | undefined) => record?.budget;

async function drain(stream: AsyncIterable<unknown>): Promise<number> {
  let chunks = 0;
  for await (const _ of stream) chunks++;
  return chunks;
}

it("the header's token counts hold (tokenizer sanity)", () => {
  expect([tokensOf("human"), tokensOf("user"), tokensOf(PROMPT)]).toEqual([1, 1, 1]);
});

describe("clamping: the max tokens sent are what the budget can pay for", () => {
  // gpt-4o, $0.001: 89 tokens, $0.0009925 reserved, $0.00091 spent (header).
  const CLAMPED_4O = { decision: "clamped", maxTokens: 89, reservedUsd: 0.0009925, limitUsd: 0.001, spentUsd: 0.00091 } as const;

  it("Chat Completions invoke: max_tokens", async () => {
    server().setDefault(billing({ outputTokens: 500 }));
    const budget = capped(0.001);
    const message = await meteredModel(server(), { model: "gpt-4o" }).invoke(PROMPT, { callbacks: [budget] });
    // The cost says the call was clamped, from gpt-4o's profile maximum (16,384) to 89.
    expect(message.response_metadata.cost).toMatchObject({ clamp: { requestedMaxTokens: 16_384, sentMaxTokens: 89 } });
    expect(budget.records[0]?.cost.clamp).toEqual({ requestedMaxTokens: 16_384, sentMaxTokens: 89 });

    expect(lastBody()).toMatchObject({ max_tokens: 89 });
    expect(lastBody().max_completion_tokens).toBeUndefined();
    expect(message.usage_metadata).toMatchObject({ input_tokens: 8, output_tokens: 89 });
    expect(budget.records).toHaveLength(1);
    expect(viewOf(budget.records[0])).toMatchObject(CLAMPED_4O);
    expect(budget.records[0]?.cost.nanoUsd).toBe(910_000);
    expect(budget.spentUsd).toBe(0.00091);
  });

  it("Chat Completions stream: max_tokens, and the stream ends at the clamp", async () => {
    server().setDefault(billing({ outputTokens: 500 }));
    const budget = capped(0.001);
    const stream = await meteredModel(server(), { model: "gpt-4o" }).stream(PROMPT, { callbacks: [budget] });
    await drain(stream);

    expect(lastBody()).toMatchObject({ stream: true, max_tokens: 89 });
    expect(viewOf(budget.records[0])).toMatchObject(CLAMPED_4O);
    expect(budget.records[0]?.estimated).toBe(false);
    expect(budget.spentUsd).toBe(0.00091);
  });

  it("a reasoning model (o3-mini): max_completion_tokens, never max_tokens", async () => {
    // 41 × 1,100 = 45,100; (1,000,000 − 45,100) / 4,400 = 217.02 → 217; reserved 45,100 + 954,800 = 999,900.
    // Cost: 8 × 1,100 + 217 × 4,400 = 8,800 + 954,800 = 963,600.
    server().setDefault(billing({ outputTokens: 500 }));
    const budget = capped(0.001);
    await meteredModel(server(), { model: "o3-mini" }).invoke(PROMPT, { callbacks: [budget] });

    expect(lastBody()).toMatchObject({ max_completion_tokens: 217 });
    expect(lastBody().max_tokens).toBeUndefined();
    expect(viewOf(budget.records[0])).toMatchObject({ decision: "clamped", maxTokens: 217, reservedUsd: 0.0009999 });
    expect(budget.records[0]?.cost.nanoUsd).toBe(963_600);
  });

  it("a gpt-5 model (gpt-5-mini): max_completion_tokens", async () => {
    // 41 × 250 = 10,250; (1,000,000 − 10,250) / 2,000 = 494.875 → 494; reserved 10,250 + 988,000 = 998,250.
    server().setDefault(billing({ outputTokens: 500 }));
    const budget = capped(0.001);
    await meteredModel(server(), { model: "gpt-5-mini" }).invoke(PROMPT, { callbacks: [budget] });

    expect(lastBody()).toMatchObject({ max_completion_tokens: 494 });
    expect(lastBody().max_tokens).toBeUndefined();
    expect(viewOf(budget.records[0])).toMatchObject({ decision: "clamped", maxTokens: 494, reservedUsd: 0.00099825 });
  });

  it("Responses API invoke: max_output_tokens", async () => {
    server().setDefault(billing({ outputTokens: 500 }));
    const budget = capped(0.001);
    await meteredModel(server(), { model: "gpt-4o", useResponsesApi: true }).invoke(PROMPT, { callbacks: [budget] });

    expect(server().requests[0]?.api).toBe("responses");
    expect(lastBody()).toMatchObject({ max_output_tokens: 89 });
    expect(viewOf(budget.records[0])).toMatchObject(CLAMPED_4O);
    expect(budget.records[0]?.cost.nanoUsd).toBe(910_000);
  });

  it("Responses API stream: max_output_tokens", async () => {
    server().setDefault(billing({ outputTokens: 500 }));
    const budget = capped(0.001);
    await drain(await meteredModel(server(), { model: "gpt-4o", useResponsesApi: true }).stream(PROMPT, { callbacks: [budget] }));

    expect(server().requests[0]).toMatchObject({ api: "responses", stream: true });
    expect(lastBody()).toMatchObject({ max_output_tokens: 89 });
    expect(viewOf(budget.records[0])).toMatchObject(CLAMPED_4O);
  });

  it("the model's own budget option ({ limitUsd, hardCap }) clamps through the per-run budget", async () => {
    server().setDefault(billing({ outputTokens: 500 }));
    const model = meteredModel(server(), { model: "gpt-4o", budget: { limitUsd: 0.001, hardCap: true } });
    const message = await model.invoke(PROMPT);
    expect(lastBody()).toMatchObject({ max_tokens: 89 });
    expect(message.usage_metadata?.output_tokens).toBe(89);
  });

  it("streamEvents() (no version, its own run): max_tokens", async () => {
    server().setDefault(billing({ outputTokens: 500 }));
    const model = meteredModel(server(), { model: "gpt-4o", budget: { limitUsd: 0.001, hardCap: true } });
    await drain(model.streamEvents(PROMPT));
    expect(lastBody()).toMatchObject({ stream: true, max_tokens: 89 });
  });

  it("streamEvents v2 with a handler: max_tokens, a clamped record", async () => {
    server().setDefault(billing({ outputTokens: 500 }));
    const budget = capped(0.001);
    await drain(meteredModel(server(), { model: "gpt-4o" }).streamEvents(PROMPT, { version: "v2", callbacks: [budget] }));
    expect(lastBody()).toMatchObject({ max_tokens: 89 });
    expect(viewOf(budget.records[0])).toMatchObject(CLAMPED_4O);
  });

  it("a maxTokens above what the budget pays for is lowered; one below it is sent as set", async () => {
    server().setDefault(billing({ outputTokens: 500 }));
    await meteredModel(server(), { model: "gpt-4o", maxTokens: 1000 }).invoke(PROMPT, { callbacks: [capped(0.001)] });
    expect(lastBody()).toMatchObject({ max_tokens: 89 });

    // 50 ≤ 89: allowed from the byte bound, reserved 50 × 2,500 + 50 × 10,000 = 125,000 + 500,000 = 625,000.
    const budget = capped(0.001);
    await meteredModel(server(), { model: "gpt-4o", maxTokens: 50 }).invoke(PROMPT, { callbacks: [budget] });
    expect(lastBody()).toMatchObject({ max_tokens: 50 });
    expect(viewOf(budget.records[0])).toMatchObject({ decision: "allowed", maxTokens: 50, reservedUsd: 0.000625 });
  });
});

describe("a call with room is allowed, and still sent with an explicit limit", () => {
  it("a fractional maxTokens is planned in whole tokens (it used to crash the BigInt arithmetic)", async () => {
    server().setDefault(billing({ outputTokens: 20 }));
    const budget = capped(2);
    await meteredModel(server(), { model: "gpt-4o", maxTokens: 100.5 }).invoke(PROMPT, { callbacks: [budget] });
    expect(viewOf(budget.records[0])).toMatchObject({ decision: "allowed", maxTokens: 100 });
    expect(budget.records[0]?.cost.clamp).toBeUndefined();
  });

  it("no max tokens set: the model profile's maximum (gpt-4o: 16,384)", async () => {
    // Reserved (from the byte bound): 50 × 2,500 + 16,384 × 10,000 = 163,965,000 ($0.163965) of $2.
    server().setDefault(billing({ outputTokens: 20 }));
    const budget = capped(2);
    await meteredModel(server(), { model: "gpt-4o" }).invoke(PROMPT, { callbacks: [budget] });

    expect(lastBody()).toMatchObject({ max_tokens: 16_384 });
    expect(viewOf(budget.records[0])).toMatchObject({ decision: "allowed", maxTokens: 16_384, reservedUsd: 0.163965 });
    // Settled with the actual cost: 8 × 2,500 + 20 × 10,000 = 220,000.
    expect(budget.records[0]?.cost.nanoUsd).toBe(220_000);
    expect(budget.spentUsd).toBe(0.00022);
  });

  it("maxTokens: -1 (ChatOpenAI's 'no limit') also gets the profile's maximum", async () => {
    server().setDefault(billing({ outputTokens: 20 }));
    await meteredModel(server(), { model: "gpt-4o", maxTokens: -1 }).invoke(PROMPT, { callbacks: [capped(2)] });
    expect(lastBody()).toMatchObject({ max_tokens: 16_384 });
  });

  it("a reasoning model: max_completion_tokens at its profile's maximum (o3-mini: 100,000)", async () => {
    // Reserved: 50 × 1,100 + 100,000 × 4,400 = 55,000 + 440,000,000 = 440,055,000 ($0.440055).
    server().setDefault(billing({ outputTokens: 20 }));
    const budget = capped(2);
    await meteredModel(server(), { model: "o3-mini" }).invoke(PROMPT, { callbacks: [budget] });
    expect(lastBody()).toMatchObject({ max_completion_tokens: 100_000 });
    expect(viewOf(budget.records[0])).toMatchObject({ decision: "allowed", maxTokens: 100_000, reservedUsd: 0.440055 });
  });

  it("Responses API: max_output_tokens at the profile's maximum", async () => {
    server().setDefault(billing({ outputTokens: 20 }));
    await meteredModel(server(), { model: "gpt-4o", useResponsesApi: true }).invoke(PROMPT, { callbacks: [capped(2)] });
    expect(lastBody()).toMatchObject({ max_output_tokens: 16_384 });
  });

  it("a model with no known maximum output: DEFAULT_MAX_OUTPUT_TOKENS (32,768)", async () => {
    // $1/$2 per 1M = 1,000 / 2,000 nano per token: 50 × 1,000 + 32,768 × 2,000 = 65,586,000 ($0.065586).
    server().setDefault(billing({ outputTokens: 20 }));
    const prices = { "my-finetune": { input: 1, output: 2 } };
    const budget = new BudgetCallbackHandler({ limitUsd: 1, hardCap: true, prices });
    const model = meteredModel(server(), { model: "my-finetune", prices });
    await model.invoke(PROMPT, { callbacks: [budget] });
    expect(lastBody()).toMatchObject({ max_tokens: 32_768 });
    expect(viewOf(budget.records[0])).toMatchObject({ decision: "allowed", maxTokens: 32_768, reservedUsd: 0.065586 });
  });

  it("without hardCap, nothing is reserved and no limit is added to the request", async () => {
    server().setDefault(billing({ outputTokens: 20 }));
    const budget = new BudgetCallbackHandler({ limitUsd: 0.001 });
    await meteredModel(server(), { model: "gpt-4o" }).invoke(PROMPT, { callbacks: [budget] });
    expect(lastBody().max_tokens).toBeUndefined();
    expect(viewOf(budget.records[0])).toEqual({ decision: "allowed", limitUsd: 0.001, spentUsd: 0.00022, remainingUsd: 0.00078 });
  });
});

describe("a model's own prices", () => {
  // Regression guard (was a bug in src/model/call-budget.ts `CallBudget.open`, src/budget/budget-handler.ts `reserve`/`pricePartial`/
  // `worstCaseNano`): the budget handler prices with its own catalog, built from its own `prices` option.
  // The per-run handler LangChain creates (`new RunBudgetHandler({})`) and a user's BudgetCallbackHandler
  // have none, so a MeteredChatModel whose model is priced only by its own `prices` option
  // (`{ model: "my-finetune", prices: { "my-finetune": … } }`) fails with UnknownModelPriceError in
  // `reserve` (every hard-capped call, before it is sent) and in `observe` → `pricePartial` (every
  // stream under any limit: `worstCaseNano` returns MAX_SAFE_INTEGER for an unknown price, so its first
  // chunk is priced, and throws). Invoke without a hard cap works only because the model puts its cost on
  // the message. Fix: let the model hand its catalog (or the call's compiled price) to the handler with
  // the call (a `catalog`/`price` field on CallRequest → BudgetedCall) and use it before the handler's own.
  const prices = { "my-finetune": { input: 1, output: 2 } };

  it("reach a hard cap the model's budget option sets", async () => {
    server().setDefault(billing({ outputTokens: 20 }));
    await meteredModel(server(), { model: "my-finetune", prices, budget: { limitUsd: 1, hardCap: true } }).invoke(PROMPT);
    expect(lastBody()).toMatchObject({ max_tokens: 32_768 });
  });

  it("reach the budget that watches a stream (no hard cap, the default per-run budget)", async () => {
    server().setDefault(billing({ outputTokens: 20 }));
    await drain(await meteredModel(server(), { model: "my-finetune", prices }).stream(PROMPT));
    expect(server().requests).toHaveLength(1);
  });
});

describe("refusal before the call is sent", () => {
  // The threshold: input 102,500 + MIN_USEFUL_OUTPUT_TOKENS (16) × 10,000 = 262,500 nano.
  it("at $0.0002625 the call is sent with max_tokens 16; one nano-dollar less, it is refused", async () => {
    server().setDefault(billing({ outputTokens: 500 }));
    const model = meteredModel(server(), { model: "gpt-4o" });
    const budget = capped(0.0002625);
    await model.invoke(PROMPT, { callbacks: [budget] });
    expect(lastBody()).toMatchObject({ max_tokens: 16 });
    expect(viewOf(budget.records[0])).toMatchObject({ decision: "clamped", maxTokens: 16, reservedUsd: 0.0002625 });

    const tight = capped(0.000262499);
    const error = await rejectionOf(model.invoke(PROMPT, { callbacks: [tight] }));
    expect(BudgetExceededError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ stop: "refused", spentUsd: 0, limitUsd: 0.000262499 });
    expect(server().requests).toHaveLength(1);
    expect(tight.records).toHaveLength(1);
    expect(viewOf(tight.records[0])).toMatchObject({ decision: "refused", spentUsd: 0 });
    expect(tight.records[0]?.cost.nanoUsd).toBe(0);
    expect(tight.signal.aborted).toBe(false); // a refusal does not abort calls in flight
  });

  for (const [path, run] of [
    ["invoke", (model, budget) => model.invoke(PROMPT, { callbacks: [budget] })],
    ["stream", async (model, budget) => drain(await model.stream(PROMPT, { callbacks: [budget] }))],
    ["Responses invoke", (model, budget) => model.invoke(PROMPT, { callbacks: [budget] })],
    ["Responses stream", async (model, budget) => drain(await model.stream(PROMPT, { callbacks: [budget] }))],
    ["streamEvents v2", (model, budget) => drain(model.streamEvents(PROMPT, { version: "v2", callbacks: [budget] }))],
  ] as const satisfies ReadonlyArray<readonly [string, (m: ReturnType<typeof meteredModel>, b: BudgetCallbackHandler) => Promise<unknown>]>) {
    it(`${path}: zero HTTP requests, stop "refused", a refused record`, async () => {
      server().setDefault(billing());
      const model = meteredModel(server(), { model: "gpt-4o", useResponsesApi: path.startsWith("Responses") });
      const budget = capped(0.0001); // < 262,500 nano
      const before = server().requests.length;

      const error = await rejectionOf(run(model, budget));

      expect(BudgetExceededError.isInstance(error)).toBe(true);
      expect((error as BudgetExceededError).stop).toBe("refused");
      expect(server().requests.length).toBe(before);
      expect(budget.records.map((r) => r.budget?.decision)).toEqual(["refused"]);
      expect(budget.spentUsd).toBe(0);
    });
  }

  it("model.batch: every input refused, none sent", async () => {
    server().setDefault(billing());
    const budget = capped(0.0001);
    const results = await meteredModel(server(), { model: "gpt-4o" }).batch([PROMPT, PROMPT, PROMPT], { callbacks: [budget] }, { returnExceptions: true });
    expect(results.map((r) => BudgetExceededError.isInstance(r) && r.stop)).toEqual(["refused", "refused", "refused"]);
    expect(server().requests).toHaveLength(0);
  });

  it("once a run has spent all but a short answer's worth, its next call is refused without a request", async () => {
    // gpt-4o-mini, $0.0005 = 500,000. Call 1: 41 × 150 = 6,150 in; (500,000 − 6,150) / 600 = 823 tokens;
    // costs 8 × 150 + 823 × 600 = 1,200 + 493,800 = 495,000. Left: 5,000 < 6,150 + 16 × 600 = 15,750.
    server().setDefault(billing({ outputTokens: 5000 }));
    const budget = capped(0.0005);
    const model = meteredModel(server(), { model: "gpt-4o-mini" });
    await model.invoke(PROMPT, { callbacks: [budget] });
    expect(lastBody()).toMatchObject({ max_tokens: 823 });
    expect(budget.spentUsd).toBe(0.000495);

    const error = await rejectionOf(model.invoke(PROMPT, { callbacks: [budget] }));
    expect(error).toMatchObject({ name: "BudgetExceededError", stop: "refused", spentUsd: 0.000495 });
    expect(server().requests).toHaveLength(1);
    expect(budget.records.map((r) => r.budget?.decision)).toEqual(["clamped", "refused"]);
  });
});

describe("reservations are released when a call fails", () => {
  for (const status of [429, 500]) {
    it(`after a ${status}, the next call gets the whole budget again (same max tokens)`, async () => {
      server().script({ status });
      server().setDefault(billing({ outputTokens: 500 }));
      const budget = capped(0.001);
      const model = meteredModel(server(), { model: "gpt-4o" });

      const error = await rejectionOf(model.invoke(PROMPT, { callbacks: [budget] }));
      expect(BudgetExceededError.isInstance(error)).toBe(false);
      expect((error as { status?: number }).status).toBe(status);
      expect(budget.spentUsd).toBe(0);
      expect(budget.records).toHaveLength(0);

      await model.invoke(PROMPT, { callbacks: [budget] });
      expect(server().requests.map((r) => r.body.max_tokens)).toEqual([89, 89]);
      expect(viewOf(budget.records[0])).toMatchObject({ decision: "clamped", maxTokens: 89, reservedUsd: 0.0009925 });
      expect(budget.spentUsd).toBe(0.00091);
    });
  }

  it("after a failed stream, too", async () => {
    server().script({ status: 500 });
    server().setDefault(billing({ outputTokens: 500 }));
    const budget = capped(0.001);
    const model = meteredModel(server(), { model: "gpt-4o" });
    await rejectionOf(model.stream(PROMPT, { callbacks: [budget] }).then(drain));
    await drain(await model.stream(PROMPT, { callbacks: [budget] }));
    expect(server().requests.map((r) => r.body.max_tokens)).toEqual([89, 89]);
    expect(budget.spentUsd).toBe(0.00091);
  });

  it("the model's own retries keep the one reservation: every attempt is sent with the same limit", async () => {
    server().script({ status: 429 });
    server().setDefault(billing({ outputTokens: 500 }));
    const budget = capped(0.001);
    await meteredModel(server(), { model: "gpt-4o", maxRetries: 1 }).invoke(PROMPT, { callbacks: [budget] });
    expect(server().requests.map((r) => r.body.max_tokens)).toEqual([89, 89]);
    expect(budget.records).toHaveLength(1);
    expect(budget.spentUsd).toBe(0.00091);
  });

  it("failures in a loop of calls: every success gets the full clamp, the run ends refused, under the limit", async () => {
    // gpt-4o-mini, $0.0005: each success is clamped to 823 tokens and costs 495,000 (see "refusal" above).
    server().script({ status: 500 }, { status: 429 });
    server().setDefault(billing({ outputTokens: 5000 }));
    const budget = capped(0.0005);
    const model = meteredModel(server(), { model: "gpt-4o-mini" });
    const outcomes: string[] = [];
    for (let i = 0; i < 5; i++) {
      const error = await model.invoke(PROMPT, { callbacks: [budget] }).then(() => undefined, (e: unknown) => e);
      outcomes.push(error === undefined ? "ok" : BudgetExceededError.isInstance(error) ? error.stop : String((error as { status?: number }).status));
    }
    expect(outcomes).toEqual(["500", "429", "ok", "refused", "refused"]);
    expect(server().requests.map((r) => r.body.max_tokens)).toEqual([823, 823, 823]);
    expect(budget.spentUsd).toBe(0.000495);
  });
});

describe("streams stopped at the limit, their partial cost recorded", () => {
  // A server that ignores max_tokens streams on past the clamp: the stream is stopped as soon as the cost
  // of what arrived crosses the limit. Priced locally: 8 × 2,500 + k × 10,000 > 1,000,000 first at
  // k = 99 tokens (one per chunk): 20,000 + 990,000 = 1,010,000 ($0.00101), one token over.
  for (const hardCap of [true, false]) {
    it(`${hardCap ? "under a hard cap" : "after the call (no hard cap)"}: stopped one token over, request aborted`, async () => {
      server().setDefault(billing({ outputTokens: 2000, ignoreMaxTokens: true, chunkDelayMs: 1 }));
      const budget = new BudgetCallbackHandler({ limitUsd: 0.001, hardCap });
      const model = meteredModel(server(), { model: "gpt-4o" });

      const error = await rejectionOf(model.stream(PROMPT, { callbacks: [budget] }).then(drain));

      expect(error).toMatchObject({ name: "BudgetExceededError", stop: "exceeded" });
      expect(lastBody().max_tokens).toBe(hardCap ? 89 : undefined);
      expect(await eventually(() => server().requests[0]?.aborted === true)).toBe(true);
      expect(budget.records).toHaveLength(1);
      const record = budget.records[0];
      expect(record?.estimated).toBe(true);
      expect(record?.usage).toMatchObject({ inputTokens: 8, outputTokens: 99 });
      expect(record?.cost.nanoUsd).toBe(1_010_000);
      expect(viewOf(record)).toMatchObject({ decision: "exceeded", spentUsd: 0.00101 });
      if (hardCap) expect(viewOf(record)).toMatchObject({ maxTokens: 89, reservedUsd: 0.0009925 });
      expect(budget.spentUsd).toBe(0.00101);
    });
  }

  it("without a hard cap, a stream the consumer stops reading is charged what it received", async () => {
    server().setDefault(billing({ outputTokens: 2000, chunkDelayMs: 1 }));
    const budget = new BudgetCallbackHandler({ limitUsd: 0.001 });
    const model = meteredModel(server(), { model: "gpt-4o" });
    let chunks = 0;
    for await (const _ of await model.stream(PROMPT, { callbacks: [budget] })) if (++chunks === 10) break;
    expect(await eventually(() => budget.records.length === 1)).toBe(true);
    const record = budget.records[0];
    expect(record?.estimated).toBe(true);
    expect(record?.cost.estimate).toBe("cut-short");
    // Conservatively: the input with its margin (41 tokens) and the output received, at gpt-4o's dearest rates.
    const spentNano = Math.round(budget.spentUsd * 1e9);
    expect(spentNano).toBeGreaterThanOrEqual(102_500); // at least its 41 input tokens with the margin
    expect(spentNano).toBeLessThan(102_500 + 10 * 10_000); // fewer than 10 one-token chunks of output
  });

  it("under a hard cap, a stream the consumer stops reading is charged its hold: the provider may have made more", async () => {
    server().setDefault(billing({ outputTokens: 2000, chunkDelayMs: 1 }));
    const budget = capped(0.001);
    const model = meteredModel(server(), { model: "gpt-4o" });
    let chunks = 0;
    for await (const _ of await model.stream(PROMPT, { callbacks: [budget] })) if (++chunks === 10) break;
    expect(await eventually(() => budget.records.length === 1)).toBe(true);
    expect(budget.heldUsd).toBe(0);
    expect(budget.records[0]?.cost).toMatchObject({ nanoUsd: 992_500, estimated: true, estimate: "cut-short" });
    // $0.0000075 is left: not enough for a short answer, so the next call is refused before it is sent.
    const sent = server().requests.length;
    await expect(model.invoke(PROMPT, { callbacks: [budget] })).rejects.toMatchObject({ name: "BudgetExceededError", stop: "refused" });
    expect(server().requests).toHaveLength(sent);
    expect(budget.spentUsd).toBeLessThanOrEqual(0.001);
  });

  it("under a hard cap, a server that honours the limit needs no stop: the stream ends at the clamp, under the limit", async () => {
    server().setDefault(billing({ outputTokens: 2000 }));
    const budget = capped(0.001);
    await drain(await meteredModel(server(), { model: "gpt-4o" }).stream(PROMPT, { callbacks: [budget] }));
    expect(server().requests[0]?.aborted).toBe(false);
    expect(budget.spentUsd).toBe(0.00091);
    expect(budget.signal.aborted).toBe(false);
  });
});

describe("the cost of watching a clamped stream", () => {
  // Regression guard (was a bug in src/budget/budget-handler.ts, `observe`): the cheap bound on a stream's cost counts every
  // streamed UTF-8 byte as a token (≈ 4–5× the real count), and under a hard cap a clamped stream's
  // reservation is the budget's whole headroom. So once a clamped stream is about a fifth of the way
  // through, the bound trips on every chunk and `pricePartial` re-tokenizes the whole prompt and the
  // whole text so far, per chunk: O(n²) in the answer's length. Measured here: a 3,000-token stream in
  // one-token chunks (as OpenAI streams) takes ~11 s clamped vs ~1.2 s with room. Fix: keep the input
  // count from `reserve` on the call, and after each precise count skip further ones until the streamed
  // bytes have grown by the headroom it left (in output tokens; a token is at least one byte), or
  // count the new delta only and add it to a running total.
  it("re-tokenizes at most a few times the text it streams", async () => {
    // gpt-4o-mini, $0.00075: (750,000 − 41 × 150) / 600 = 1,239.75 → 1,239 tokens, in 1,239 chunks.
    server().setDefault(billing({ outputTokens: 5_000 }));
    const budget = capped(0.00075);
    let encodedChars = 0;
    const encode = vi.spyOn(Tiktoken.prototype, "encode");
    try {
      await drain(await meteredModel(server(), { model: "gpt-4o-mini" }).stream(PROMPT, { callbacks: [budget] }));
      encodedChars = encode.mock.calls.reduce((sum, [text]) => sum + text.length, 0);
    } finally {
      encode.mockRestore();
    }
    expect(lastBody()).toMatchObject({ max_tokens: 1_239 });
    expect(budget.spentUsd).toBe(0.0007446); // 8 × 150 + 1,239 × 600 = 744,600
    // Measured: 3,695,194 characters tokenized for a 6,195-character answer (≈ 600×).
    expect(encodedChars).toBeLessThan(10 * 1_239 * " word".length);
  });
});

describe("n > 1: the reservation covers every output", () => {
  it("clamped: max tokens per choice is what n outputs can pay for", async () => {
    // gpt-4o-mini, n = 3, $0.001: 41 × 150 = 6,150 in; (1,000,000 − 6,150) / (600 × 3) = 552.1 → 552;
    // reserved 6,150 + 3 × 552 × 600 = 6,150 + 993,600 = 999,750 ($0.00099975).
    // Billed once: 8 × 150 + 3 × 552 × 600 = 1,200 + 993,600 = 994,800.
    server().setDefault(billing({ outputTokens: 1000 }));
    const budget = capped(0.001);
    await meteredModel(server(), { model: "gpt-4o-mini", n: 3 }).invoke(PROMPT, { callbacks: [budget] });

    expect(lastBody()).toMatchObject({ n: 3, max_tokens: 552 });
    expect(viewOf(budget.records[0])).toMatchObject({ decision: "clamped", maxTokens: 552, reservedUsd: 0.00099975 });
    expect(budget.records).toHaveLength(1);
    expect(budget.records[0]?.cost.nanoUsd).toBe(994_800);
    expect(budget.spentUsd).toBeLessThanOrEqual(0.001);
  });

  it("allowed: the reservation is n times the maximum output", async () => {
    // n = 2, maxTokens 100, from the byte bound: 50 × 150 + 2 × 100 × 600 = 7,500 + 120,000 = 127,500 ($0.0001275).
    server().setDefault(billing({ outputTokens: 50 }));
    const budget = capped(2);
    await meteredModel(server(), { model: "gpt-4o-mini", n: 2, maxTokens: 100 }).invoke(PROMPT, { callbacks: [budget] });
    expect(lastBody()).toMatchObject({ n: 2, max_tokens: 100 });
    expect(viewOf(budget.records[0])).toMatchObject({ decision: "allowed", maxTokens: 100, reservedUsd: 0.0001275 });
    // 8 × 150 + 2 × 50 × 600 = 1,200 + 60,000 = 61,200.
    expect(budget.records[0]?.cost.nanoUsd).toBe(61_200);
  });

  it("refused when n short answers don't fit: 6,150 + 3 × 16 × 600 = 34,950 needed", async () => {
    server().setDefault(billing());
    const budget = capped(0.00003494);
    const error = await rejectionOf(meteredModel(server(), { model: "gpt-4o-mini", n: 3 }).invoke(PROMPT, { callbacks: [budget] }));
    expect(error).toMatchObject({ name: "BudgetExceededError", stop: "refused" });
    expect(server().requests).toHaveLength(0);
  });
});

describe("one SDK client per model, however many capped calls", () => {
  // A capped call is sent through a per-call view of the model (its own max tokens); the OpenAI client is made
  // lazily on `this`, so a view made before it exists would build a client (~260 µs, 38 KB) per call.
  it.each([
    { api: "chat", useResponsesApi: false, maxRetries: 0 },
    { api: "responses", useResponsesApi: true, maxRetries: 0 },
    { api: "chat, retrying", useResponsesApi: false, maxRetries: 2 },
    { api: "responses, retrying", useResponsesApi: true, maxRetries: 2 },
  ])("$api: five invokes and five streams send through one client", async ({ useResponsesApi, maxRetries }) => {
    server().setDefault(billing({ outputTokens: 20 }));
    const Delegate = useResponsesApi ? ChatOpenAIResponses : ChatOpenAICompletions;
    const clients = new Set<unknown>();
    const original = Delegate.prototype.completionWithRetry;
    const spy = vi.spyOn(Delegate.prototype, "completionWithRetry").mockImplementation(async function (this: { client?: unknown }, ...args: unknown[]) {
      try {
        return await (original as (...a: unknown[]) => Promise<never>).apply(this, args);
      } finally {
        clients.add(this.client);
      }
    });
    try {
      const model = meteredModel(server(), { model: "gpt-4o-mini", useResponsesApi, maxRetries, budget: { limitUsd: 1, hardCap: true } });
      for (let i = 0; i < 5; i++) await model.invoke(PROMPT);
      for (let i = 0; i < 5; i++) await drain(await model.stream(PROMPT));
      expect(spy).toHaveBeenCalledTimes(10);
      expect(server().requests).toHaveLength(10);
      expect(clients.size).toBe(1);
      expect([...clients][0]).toBeDefined();
    } finally {
      spy.mockRestore();
    }
  });
});
