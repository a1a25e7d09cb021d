/**
 * Overshoot: how far past its limit a budgeted run ends, after-the-call (the default) vs `hardCap: true`.
 *
 * Many seeded random runs against the loopback fake OpenAI (in process: its replies are computed per
 * request), which bills as OpenAI does (test/budget/hard-cap-billing.ts): prompt_tokens counted with
 * o200k_base as OpenAI documents, completion_tokens = min(the request's max tokens, what the "model"
 * wants to write), and the reply honours the limit. A run: a model (gpt-4o-mini or gpt-4o), a limit of
 * $0.002–$0.02, streaming or not, a max-tokens setting (unset, or 256–2,048), and 1, 8 or 64 workers that
 * each call the model in a loop (random prompts of 5–600 words, random answers of 20–1,500 tokens, 1–30 ms
 * of server latency) until the budget stops them. Each scenario runs in both modes, in alternating order,
 * with the same prompts (every worker draws from its own seeded PRNG).
 *
 * Per run: the ledger's spend (`budget.spentUsd`, which counts what aborted calls received), the server's
 * bill (every request that reached it, billed in full: an upper bound for aborted ones), the overshoot
 * (spend − limit, when positive), the calls paid after the limit was crossed (calls in flight that were
 * charged after the crossing one), and the budget left unused at the end.
 *
 * `npm run bench -- overshoot` runs it as a section of the suite; `npx tsx bench/overshoot.ts` runs it
 * alone (and does not touch bench/results/latest.json). Either way the figures go to
 * bench/results/overshoot.json. OVERSHOOT_RUNS sets the scenarios per concurrency (default 16: about a minute on 2 idle cores).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import { BudgetCallbackHandler, BudgetExceededError, MeteredChatModel } from "../src/index.js";
import { type Bill, billing, prng, randomPrompt } from "../test/budget/hard-cap-billing.js";
import { startFakeOpenAI, type FakeOpenAI } from "../test/support/openai-server.js";
import { assert, section } from "./harness.js";

const SEED = 0x0b5e55;
const CONCURRENCY = [1, 8, 64] as const;
const MODES = ["after the call", "hard cap"] as const;
type Mode = (typeof MODES)[number];
/** A worker stops after this many calls even if the budget never stopped it (it always does). */
const MAX_CALLS_PER_WORKER = 200;

interface Scenario {
  seed: number;
  concurrency: number;
  model: "gpt-4o" | "gpt-4o-mini";
  limitUsd: number;
  stream: boolean;
  maxTokens: number | undefined;
}

interface RunResult {
  scenario: Scenario;
  mode: Mode;
  limitNano: number;
  spentNano: number;
  billedNano: number;
  calls: number;
  refused: number;
  paidAfterLimit: number;
  /** Requests that reached the server after the spend crossed the limit. */
  sentAfterLimit: number;
  /** The limit less the spend when the first call was refused, in nano-USD (what an agent that ends at its first refusal leaves unused). */
  unusedAtFirstRefusalNano: number | undefined;
  stoppedBy: "refused" | "exceeded" | "other" | "none";
  otherError?: string;
  ms: number;
}

function scenario(seed: number, concurrency: number): Scenario {
  const random = prng(seed);
  return {
    seed,
    concurrency,
    model: random.pick(["gpt-4o-mini", "gpt-4o"] as const),
    limitUsd: random.int(2_000, 20_000) / 1e6,
    stream: random.next() < 0.5,
    maxTokens: random.next() < 0.5 ? undefined : random.int(256, 2_048),
  };
}

/** When each bill's request reached the server. */
const arrivals = new WeakMap<Bill, number>();
const wanted = (body: unknown) => Number(/\[reply (\d+)\]/.exec(JSON.stringify(body))?.[1] ?? 100);
const latency = (body: unknown) => Number(/\[latency (\d+)\]/.exec(JSON.stringify(body))?.[1] ?? 0);

async function run(server: FakeOpenAI, bills: Map<string, Bill[]>, s: Scenario, mode: Mode, runId: string): Promise<RunResult> {
  bills.set(runId, []);
  const t0 = performance.now();
  const budget = new BudgetCallbackHandler({ limitUsd: s.limitUsd, hardCap: mode === "hard cap" });
  const model = new MeteredChatModel({
    model: s.model,
    apiKey: "bench",
    // A keep-alive socket the fake server closes just as it is reused fails with "Connection error"
    // before reaching it; retry that (it was never billed). No other error is scripted.
    maxRetries: 2,
    configuration: { baseURL: server.url, defaultHeaders: { "x-bench-run": runId } },
    ...(s.maxTokens ? { maxTokens: s.maxTokens } : {}),
  });
  const limitNano = Math.round(s.limitUsd * 1e9);
  let crossedAt = Infinity;
  budget.signal.addEventListener("abort", () => void (crossedAt = performance.now()));
  let calls = 0;
  let refused = 0;
  let stoppedBy: RunResult["stoppedBy"] = "none";
  let otherError: string | undefined;

  const worker = async (index: number) => {
    const random = prng(s.seed * 131 + index);
    for (let i = 0; i < MAX_CALLS_PER_WORKER; i++) {
      const prompt = `${randomPrompt(random, random.int(5, 600))} [reply ${random.int(20, 1_500)}] [latency ${random.int(1, 30)}]`;
      calls++;
      try {
        if (s.stream) {
          for await (const _ of await model.stream(prompt, { callbacks: [budget] })) void _;
        } else {
          await model.invoke(prompt, { callbacks: [budget] });
        }
      } catch (error) {
        if (BudgetExceededError.isInstance(error)) {
          if (error.stop === "refused") refused++;
          if (stoppedBy === "none" || stoppedBy === "refused") stoppedBy = error.stop;
        } else {
          stoppedBy = "other";
          otherError = String(error);
        }
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: s.concurrency }, (_, i) => worker(i)));

  // Calls charged after the one that crossed the limit (records are in the order calls ended).
  let paidAfterLimit = 0;
  let crossed = false;
  for (const record of budget.records) {
    if (crossed && record.cost.nanoUsd > 0) paidAfterLimit++;
    if ((record.budget?.spentUsd ?? 0) > s.limitUsd) crossed = true;
  }
  const firstRefusal = budget.records.find((r) => r.budget?.decision === "refused")?.budget;
  const runBills = bills.get(runId) ?? [];
  return {
    scenario: s,
    mode,
    limitNano,
    spentNano: Math.round(budget.spentUsd * 1e9),
    billedNano: runBills.reduce((sum, bill) => sum + (bill.nanoUsd ?? 0), 0),
    calls,
    refused,
    paidAfterLimit,
    sentAfterLimit: runBills.filter((bill) => (arrivals.get(bill) ?? 0) > crossedAt).length,
    unusedAtFirstRefusalNano: firstRefusal ? Math.round(firstRefusal.remainingUsd * 1e9) : undefined,
    stoppedBy,
    ...(otherError ? { otherError } : {}),
    ms: Math.round(performance.now() - t0),
  };
}

interface Row {
  mode: Mode;
  concurrency: number;
  runs: number;
  over: number;
  overBilled: number;
  maxOverUsd: number;
  meanOverUsd: number;
  maxOverPct: number;
  meanOverPct: number;
  maxBilledOverPct: number;
  meanBilledOverPct: number;
  meanPaidAfter: number;
  maxPaidAfter: number;
  sentAfter: number;
  meanUnusedPct: number;
  meanUnusedAtFirstRefusalPct: number;
  meanCalls: number;
  stoppedBy: Record<string, number>;
}

function summarize(results: RunResult[], mode: Mode, concurrency: number): Row {
  const rs = results.filter((r) => r.mode === mode && r.scenario.concurrency === concurrency);
  const over = rs.map((r) => Math.max(0, r.spentNano - r.limitNano));
  const overPct = rs.map((r, i) => (100 * (over[i] ?? 0)) / r.limitNano);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const stoppedBy: Record<string, number> = {};
  for (const r of rs) stoppedBy[r.stoppedBy] = (stoppedBy[r.stoppedBy] ?? 0) + 1;
  return {
    mode,
    concurrency,
    runs: rs.length,
    over: rs.filter((r) => r.spentNano > r.limitNano).length,
    overBilled: rs.filter((r) => r.billedNano > r.limitNano).length,
    maxOverUsd: Math.max(0, ...over) / 1e9,
    meanOverUsd: mean(over) / 1e9,
    maxOverPct: Math.max(0, ...overPct),
    meanOverPct: mean(overPct),
    maxBilledOverPct: Math.max(0, ...rs.map((r) => (100 * Math.max(0, r.billedNano - r.limitNano)) / r.limitNano)),
    meanBilledOverPct: mean(rs.map((r) => (100 * Math.max(0, r.billedNano - r.limitNano)) / r.limitNano)),
    meanPaidAfter: mean(rs.map((r) => r.paidAfterLimit)),
    maxPaidAfter: Math.max(0, ...rs.map((r) => r.paidAfterLimit)),
    sentAfter: rs.reduce((sum, r) => sum + r.sentAfterLimit, 0),
    meanUnusedAtFirstRefusalPct: mean(rs.map((r) => (100 * Math.max(0, r.unusedAtFirstRefusalNano ?? 0)) / r.limitNano)),
    meanUnusedPct: mean(rs.map((r) => (100 * Math.max(0, r.limitNano - r.spentNano)) / r.limitNano)),
    meanCalls: mean(rs.map((r) => r.calls - r.refused)),
    stoppedBy,
  };
}

const usd = (x: number) => (x === 0 ? "0" : `$${x.toFixed(6)}`);
const pct = (x: number) => `${x.toFixed(1)}%`;

function table(rows: Row[]): string {
  const out = [
    "| mode | concurrent calls | runs | runs over the limit (ledger / server bill) | max overshoot | mean overshoot | server bill over the limit, max / mean | calls paid after the limit (mean / max) | requests sent after the limit | unused at the end (mean) | unused at the first refusal (mean) | calls sent per run (mean) | runs stopped by |",
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
  ];
  for (const r of rows) {
    const stopped = Object.entries(r.stoppedBy)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ");
    out.push(
      `| ${r.mode} | ${r.concurrency} | ${r.runs} | **${r.over}** / ${r.overBilled} | ${usd(r.maxOverUsd)} (${pct(r.maxOverPct)}) | ${usd(r.meanOverUsd)} (${pct(r.meanOverPct)}) | ${pct(r.maxBilledOverPct)} / ${pct(r.meanBilledOverPct)} | ${r.meanPaidAfter.toFixed(1)} / ${r.maxPaidAfter} | ${r.sentAfter} | ${pct(r.meanUnusedPct)} | ${pct(r.meanUnusedAtFirstRefusalPct)} | ${r.meanCalls.toFixed(1)} | ${stopped} |`,
    );
  }
  return out.join("\n");
}

export async function overshoot(runsPerConcurrency = Number(process.env.OVERSHOOT_RUNS ?? 16)): Promise<{ rows: Row[]; results: RunResult[]; seconds: number }> {
  const started = performance.now();
  const bills = new Map<string, Bill[]>();
  const inner = billing({
    outputTokens: (req) => wanted(req.body),
    chunkSize: 80, // 16 tokens per SSE delta (see the note on stream pricing in BENCHMARKS.md)
    onBill: (bill) => {
      arrivals.set(bill, performance.now());
      bills.get(String(bill.req.headers["x-bench-run"]))?.push(bill);
    },
  });
  const server = await startFakeOpenAI({
    defaultReply: async (req) => {
      const reply = await inner(req);
      return req.stream ? reply : { ...reply, chunkDelayMs: latency(req.body) };
    },
  });
  const results: RunResult[] = [];
  try {
    let id = 0;
    for (const concurrency of CONCURRENCY) {
      for (let i = 0; i < runsPerConcurrency; i++) {
        const s = scenario(SEED + concurrency * 10_000 + i, concurrency);
        const order = i % 2 === 0 ? MODES : ([...MODES].reverse() as Mode[]);
        for (const mode of order) {
          results.push(await run(server, bills, s, mode, `run-${++id}`));
          server.requests.length = 0;
        }
      }
    }
  } finally {
    await server.close();
  }
  const failures = results.filter((r) => r.stoppedBy === "other" || r.stoppedBy === "none");
  assert(failures.length === 0, `every run ends by its budget (${failures.map((f) => `${f.mode} seed ${f.scenario.seed}: ${f.otherError ?? "not stopped"}`).join("; ")})`);
  for (const r of results.filter((r) => r.mode === "hard cap")) {
    assert(r.billedNano === r.spentNano, `hard cap: the ledger matches the server's bill (seed ${r.scenario.seed})`);
  }
  const rows = MODES.flatMap((mode) => CONCURRENCY.map((c) => summarize(results, mode, c)));
  return { rows, results, seconds: (performance.now() - started) / 1000 };
}

function write(rows: Row[], results: RunResult[], seconds: number): void {
  const dir = new URL("./results/", import.meta.url);
  mkdirSync(dir, { recursive: true });
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    loadAvg1m: Number(loadavg()[0]?.toFixed(2)),
    seconds: Number(seconds.toFixed(1)),
  };
  writeFileSync(new URL("overshoot.json", dir), JSON.stringify({ ...meta, rows, results }, null, 2) + "\n");
}

async function main(): Promise<void> {
  const { rows, results, seconds } = await overshoot();
  write(rows, results, seconds);
  console.log(table(rows));
  console.log(`\n${results.length} runs in ${seconds.toFixed(1)} s; per-run figures in bench/results/overshoot.json`);
}

section("overshoot", main);

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(`# Overshoot: after-the-call vs hard cap\n\n${new Date().toISOString()} · Node ${process.version} · ${cpus().length}× ${cpus()[0]?.model}\n`);
  await main();
}
