/**
 * Concurrent calls inside one hard-capped run never end over the limit: each call reserves its worst case
 * atomically before it is sent, so calls racing for the last of the budget can't all pass the same check.
 *
 * Seeded randomized trials (reproducible: a failure names its seed). Each trial picks a model (gpt-4o or
 * gpt-4o-mini), a limit of $0.002–$0.02, a max-tokens setting (none, or 64–2,048), and sends waves of 8
 * or 64 concurrent calls with random prompts (1–300 words) until a whole wave is refused. Each prompt
 * names how long the "model" wants to answer (10–3,000 tokens; streams 10–1,000, in 8-token chunks); the
 * fake bills as OpenAI does (./hard-cap-billing.ts). After every trial: the budget's spend and the
 * server's bill are within the limit, no call cost more than it reserved, nothing was aborted, and no
 * reservation is left behind. A model's own `budget: { hardCap }` is per run: the trials under it send one
 * wave of parallel calls from inside one run (a RunnableLambda), which all share it. (Each `model.batch()`
 * input is a run of its own.)
 */
import { RunnableLambda } from "@langchain/core/runnables";
import { describe, expect, it } from "vitest";
import { BudgetCallbackHandler, BudgetExceededError, type MeteredChatModel } from "../../src/index.js";
import { type Bill, billing, prng, randomPrompt } from "./hard-cap-billing.js";
import { meteredModel, useFakeOpenAI } from "./helpers.js";

const server = useFakeOpenAI();

const SEED = 0x4ca9;
/** Trials per (way, concurrency): streams are slow to price near their limit, so they get fewer. */
const TRIALS = { 8: 30, 64: 15 } as const;
const STREAM_TRIALS = { 8: 10, 64: 5 } as const;
const MAX_WAVES = 12;

type Send = (model: MeteredChatModel, prompts: string[], budget: BudgetCallbackHandler | undefined) => Promise<unknown[]>;
const settledReasons = (results: PromiseSettledResult<unknown>[]) => results.map((r) => (r.status === "rejected" ? r.reason : r.value));
const config = (budget: BudgetCallbackHandler | undefined) => (budget ? { callbacks: [budget] } : {});

interface Way {
  send: Send;
  /** Longest answer a prompt asks for; characters per SSE delta. */
  maxWanted: number;
  chunkSize: number;
  trials: { 8: number; 64: number };
}

const WAYS: Record<string, Way> = {
  "Promise.all of invokes": {
    maxWanted: 3_000,
    chunkSize: 5,
    trials: TRIALS,
    send: async (model, prompts, budget) => settledReasons(await Promise.allSettled(prompts.map((p) => model.invoke(p, config(budget))))),
  },
  "model.batch": {
    maxWanted: 3_000,
    chunkSize: 5,
    trials: TRIALS,
    send: (model, prompts, budget) => model.batch(prompts, config(budget), { returnExceptions: true }),
  },
  "parallel invokes inside one run (a RunnableLambda)": {
    maxWanted: 3_000,
    chunkSize: 5,
    trials: TRIALS,
    send: (model, prompts, budget) =>
      RunnableLambda.from(async (inputs: string[]) => settledReasons(await Promise.allSettled(inputs.map((p) => model.invoke(p))))).invoke(
        prompts,
        config(budget),
      ),
  },
  // Streams are priced chunk by chunk near their limit (see the quadratic-cost pin in hard-cap.test.ts):
  // shorter answers in bigger chunks keep the suite fast.
  "concurrent streams": {
    maxWanted: 1_000,
    chunkSize: 40,
    trials: STREAM_TRIALS,
    send: async (model, prompts, budget) =>
      settledReasons(
        await Promise.allSettled(
          prompts.map(async (p) => {
            for await (const _ of await model.stream(p, config(budget))) void _;
          }),
        ),
      ),
  },
};

const wantedTokens = (body: unknown) => Number(/\[reply (\d+)\]/.exec(JSON.stringify(body))?.[1] ?? 100);
const reservedOf = (budget: BudgetCallbackHandler) => Math.round(budget.heldUsd * 1e9);

interface TrialOutcome {
  limitNano: number;
  billedNano: number;
  sent: number;
  refused: number;
  clamped: number;
}

async function trial(seed: number, concurrency: number, way: Way, explicitHandler: boolean): Promise<TrialOutcome> {
  const random = prng(seed);
  const modelName = random.pick(["gpt-4o", "gpt-4o-mini"] as const);
  const limitUsd = random.int(2_000, 20_000) / 1e6;
  const maxTokens = random.next() < 0.5 ? undefined : random.int(64, 2_048);
  const bills: Bill[] = [];
  server().reset();
  server().setDefault(billing({ outputTokens: (req) => wantedTokens(req.body), chunkSize: way.chunkSize, onBill: (bill) => bills.push(bill) }));
  const budget = explicitHandler ? new BudgetCallbackHandler({ limitUsd, hardCap: true }) : undefined;
  const model = meteredModel(server(), {
    model: modelName,
    ...(maxTokens ? { maxTokens } : {}),
    ...(explicitHandler ? {} : { budget: { limitUsd, hardCap: true } }),
  });
  const where = `seed ${seed} (${modelName}, $${limitUsd}, maxTokens ${maxTokens ?? "unset"})`;

  let refused = 0;
  for (let wave = 0; wave < (explicitHandler ? MAX_WAVES : 1); wave++) {
    const prompts = Array.from({ length: concurrency }, () => `${randomPrompt(random, random.int(1, 300))} [reply ${random.int(10, way.maxWanted)}]`);
    const outcomes = await way.send(model, prompts, budget);
    const errors = outcomes.filter((o) => o instanceof Error);
    for (const error of errors) expect(error, `${where}: only refusals`).toMatchObject({ name: "BudgetExceededError", stop: "refused" });
    refused += errors.length;
    if (errors.length === outcomes.length) break;
  }

  const limitNano = Math.round(limitUsd * 1e9);
  const billedNano = bills.reduce((sum, bill) => sum + (bill.nanoUsd ?? NaN), 0);
  expect(billedNano, `${where}: billed by the server`).toBeLessThanOrEqual(limitNano);
  expect(server().requests.filter((r) => r.aborted), `${where}: aborted requests`).toHaveLength(0);
  let clamped = 0;
  if (budget) {
    expect(budget.spentUsd, `${where}: spent`).toBeLessThanOrEqual(limitUsd);
    expect(Math.round(budget.spentUsd * 1e9), `${where}: the ledger agrees with the server`).toBe(billedNano);
    expect(reservedOf(budget), `${where}: reservations left behind`).toBe(0);
    expect(budget.signal.aborted).toBe(false);
    for (const record of budget.records) {
      const view = record.budget;
      expect(view?.decision, where).not.toBe("exceeded");
      if (view?.decision === "refused") continue;
      expect(record.cost.totalUsd, `${where}: cost within its reservation`).toBeLessThanOrEqual(view?.reservedUsd ?? 0);
      expect(server().requests.length).toBeGreaterThan(0);
      if (view?.decision === "clamped") clamped++;
    }
    expect(budget.records.filter((r) => r.budget?.decision === "refused")).toHaveLength(refused);
  }
  return { limitNano, billedNano, sent: server().requests.length, refused, clamped };
}

describe.each([8, 64] as const)("%i concurrent calls in one hard-capped run", (concurrency) => {
  for (const [name, way] of Object.entries(WAYS)) {
    for (const explicitHandler of name.startsWith("parallel invokes inside") ? [true, false] : [true]) {
      const how = explicitHandler ? "a BudgetCallbackHandler({ hardCap })" : "the model's budget: { hardCap }";
      const trials = way.trials[concurrency];
      it(`${name}, under ${how}: never over the limit (${trials} seeded trials)`, { timeout: 60_000 }, async () => {
        const outcomes: TrialOutcome[] = [];
        for (let i = 0; i < trials; i++) outcomes.push(await trial(SEED + 1000 * concurrency + i, concurrency, way, explicitHandler));
        // The trials did exercise the cap: calls were sent and refused, some clamped.
        expect(outcomes.reduce((n, o) => n + o.sent, 0)).toBeGreaterThan(trials);
        expect(outcomes.filter((o) => o.refused > 0).length).toBeGreaterThan(trials / 2);
        if (explicitHandler) expect(outcomes.some((o) => o.clamped > 0)).toBe(true);
      });
    }
  }
});

it("the trials refuse, they don't overshoot: a refused call is a BudgetExceededError with stop 'refused'", async () => {
  server().setDefault(billing({ outputTokens: 3_000 }));
  const budget = new BudgetCallbackHandler({ limitUsd: 0.002, hardCap: true });
  const model = meteredModel(server(), { model: "gpt-4o" });
  const outcomes = await WAYS["Promise.all of invokes"]!.send(model, Array.from({ length: 8 }, (_, i) => `question ${i}`), budget);
  // gpt-4o with no max tokens asks for 16,384 tokens ($0.16): the first call takes the budget, clamped.
  expect(outcomes.filter((o) => !(o instanceof Error))).toHaveLength(1);
  expect(outcomes.filter((o) => BudgetExceededError.isInstance(o) && o.stop === "refused")).toHaveLength(7);
  expect(budget.spentUsd).toBeLessThanOrEqual(0.002);
});

describe("parallel calls under a hard cap queue for room instead of starving", () => {
  it("sends every call whose actual cost fits, though only two worst cases fit at once", async () => {
    // gpt-4o-mini, maxTokens 100: each hold is about 41 × 150 + 100 × 600 ≈ 66,000 nano, so two fit in
    // $0.00015 (150,000 nano); each call is billed ≈ 8 × 150 + 10 × 600 = 7,200 nano, so all eight fit in fact.
    const bills: Bill[] = [];
    server().setDefault(billing({ outputTokens: () => 10, onBill: (bill) => bills.push(bill) }));
    const budget = new BudgetCallbackHandler({ limitUsd: 0.00015, hardCap: true });
    const model = meteredModel(server(), { model: "gpt-4o-mini", maxTokens: 100 });

    const outcomes = await Promise.allSettled(Array.from({ length: 8 }, () => model.invoke("hi", config(budget))));

    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(8);
    expect(budget.records.map((r) => r.budget?.decision)).not.toContain("refused");
    expect(budget.spentUsd).toBeLessThanOrEqual(0.00015);
    expect(Math.round(budget.spentUsd * 1e9)).toBe(bills.reduce((sum, bill) => sum + (bill.nanoUsd ?? Number.NaN), 0));
    expect(reservedOf(budget)).toBe(0);
  });
});
