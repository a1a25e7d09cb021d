/**
 * The randomized hard-cap soak, CI-sized and seeded (see soak-engine.ts; `npm run bench -- soak` runs the
 * full one): runs of 1, 8 or 64 concurrent workers under a hard cap (a handler, the model's own run budget, a
 * plain model under a handler), invoke and stream, both APIs, with the fake's faults and the callers' aborts.
 * The bar: no run ends over its limit by the provider's bill; none by our own ledger either; nothing is left
 * held; no caller gets an error other than those documented; no run hangs.
 */
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { type RunResult, soak, soakTable } from "./soak-engine.js";
import { quietHandlerErrors, warmTokenizer } from "./support.js";

const SEED = 0x5eed;
const RUNS_PER_CONCURRENCY = Number(process.env.SOAK_RUNS ?? 80);

beforeAll(async () => {
  await warmTokenizer();
  quietHandlerErrors();
}, 30_000);
afterAll(() => vi.restoreAllMocks());

it(`${RUNS_PER_CONCURRENCY * 3} seeded runs: none over its limit by the provider's bill`, async () => {
  const results: RunResult[] = await soak({ seed: SEED, runsPerConcurrency: RUNS_PER_CONCURRENCY });
  if (process.env.SOAK_TABLE) console.log(soakTable(results));

  const where = (r: RunResult) => `seed ${r.seed} (${r.kind}, ${r.concurrency} workers, ${r.model}, ${r.stream ? "stream" : "invoke"}, ${r.api})`;
  expect(results).toHaveLength(RUNS_PER_CONCURRENCY * 3);
  expect(results.filter((r) => r.billedNano > r.limitNano).map(where), "over the limit by the provider's bill").toEqual([]);
  expect(results.filter((r) => r.exceeded > 0).map(where), "over the limit by our ledger").toEqual([]);
  expect(results.filter((r) => r.spentNano !== undefined && r.spentNano > r.limitNano).map(where)).toEqual([]);
  expect(results.filter((r) => r.heldAfterNano !== 0).map(where), "holds left behind").toEqual([]);
  expect(results.flatMap((r) => r.unexpected.map((e) => `${where(r)}: ${e}`)), "undocumented errors").toEqual([]);
  // The soak exercised what it claims to: faults, aborts, refusals at every concurrency.
  expect(results.reduce((s, r) => s + r.faults, 0)).toBeGreaterThan(500);
  expect(results.reduce((s, r) => s + r.userAborts, 0)).toBeGreaterThan(100);
  expect(results.filter((r) => r.runAborted).length).toBeGreaterThan(10);
  for (const c of [1, 8, 64]) expect(results.filter((r) => r.concurrency === c && r.refused).length).toBeGreaterThan(RUNS_PER_CONCURRENCY / 2);
}, 60_000);
