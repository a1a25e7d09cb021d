/**
 * A tiny benchmark harness, in the spirit of genai-prices' pricing benchmark. Each case first ASSERTS
 * its op returns the right thing (a benchmark of a broken path measures nothing), warms up, then measures
 * samples = blocks of `blockSize` ops, reporting median / min / max / p95 per op of wall time
 * (`performance.now()`) and CPU time (`process.cpuUsage()`, user + system, whole process).
 * `compare` interleaves a baseline and a candidate block by block in ABBA order in one process, so drift
 * (JIT, GC, a noisy neighbour) hits both alike; its ratio and delta are medians over adjacent block pairs.
 * Bench files register sections with `section(name, fn)`; `bench/index.ts` imports every bench file and
 * runs all sections or the named ones; results print as Markdown and go to `bench/results/latest.json`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";

export type Stats = { median: number; min: number; max: number; p95: number };

export interface Result {
  name: string;
  /** Ops measured (excluding the assertion and warm-up). Times are µs per op (per call with `callsPerOp`). */
  ops: number;
  wallUs: Stats;
  cpuUs: Stats;
  /** Ops per second from the median wall time. */
  opsPerSec: number;
}

export interface Comparison {
  name: string;
  baseline: Result;
  candidate: Result;
  /** Median over adjacent block pairs of candidate wall / baseline wall. */
  wallRatio: number;
  /** Median over adjacent block pairs of candidate CPU / baseline CPU. */
  cpuRatio: number;
  /** Median over adjacent block pairs of candidate − baseline CPU per op, µs. */
  cpuDeltaUs: number;
}

export interface Case<T = unknown> {
  label: string;
  /** One operation. Its resolved value is handed to `check` once, before anything is measured. */
  op: () => T | Promise<T>;
  /** Throws if the op's result is wrong. */
  check: (result: Awaited<T>) => void;
  /** Runs before the check, the warm-up and every block (e.g. to set an environment variable). */
  setup?: () => void;
}

export interface Plan {
  /** Ops per sample (block), default 50; samples (blocks) per side, default 20. */
  blockSize?: number;
  blocks?: number;
  /** Warm-up ops per side, not measured. Default 2 × blockSize. */
  warmup?: number;
  /** Divide each op's time by this to report per call (e.g. 100 for a round of 100 concurrent calls). */
  callsPerOp?: number;
}
type Sample = { wall: number; cpu: number };
const sections = new Map<string, () => Promise<void>>();
const results: Record<string, Array<Result | Comparison>> = {};
let current = "";

/** Registers a named section (a function that runs `bench`/`compare` calls). */
export function section(name: string, run: () => Promise<void>): void {
  if (sections.has(name)) throw new Error(`Duplicate bench section: ${name}`);
  sections.set(name, run);
}

/** Throws unless `condition`: how a case checks its result before it is measured. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`Bench assertion failed: ${message}`);
}

/** One sample: `n` ops back to back. `sync` ops are not awaited, so µs-scale functions skip microtask hops. */
async function sampleBlock(op: () => unknown, n: number, per: number, sync = false): Promise<Sample> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  if (sync) for (let i = 0; i < n; i++) op();
  else for (let i = 0; i < n; i++) await op();
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { wall: (wall * 1000) / (n * per), cpu: (cpu.user + cpu.system) / (n * per) };
}

export function stats(values: number[]): Stats {
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
  const mid = s.length >> 1;
  const median = s.length % 2 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
  return { median, min: s[0] ?? NaN, max: s[s.length - 1] ?? NaN, p95: at(0.95) };
}
function toResult(label: string, samples: Sample[], ops: number): Result {
  const wallUs = stats(samples.map((s) => s.wall));
  return { name: label, ops, wallUs, cpuUs: stats(samples.map((s) => s.cpu)), opsPerSec: 1e6 / wallUs.median };
}

async function prepare<T>(c: Case<T>, warmup: number, sync: boolean): Promise<void> {
  c.setup?.();
  c.check((await c.op()) as Awaited<T>);
  for (let i = 0; i < warmup; i++) sync ? c.op() : await c.op();
}

/** Measures one case. `sync: true` for synchronous ops (no await per op). */
export async function bench<T>(c: Case<T>, plan: Plan & { sync?: boolean } = {}): Promise<Result> {
  const { blockSize = 50, blocks = 20, callsPerOp = 1, sync = false } = plan;
  await prepare(c, plan.warmup ?? 2 * blockSize, sync);
  const samples: Sample[] = [];
  for (let b = 0; b < blocks; b++) {
    c.setup?.();
    samples.push(await sampleBlock(c.op, blockSize, callsPerOp, sync));
  }
  const result = toResult(c.label, samples, blocks * blockSize * callsPerOp);
  results[current]?.push(result);
  return result;
}

/** Baseline vs candidate, interleaved ABBA block by block in one run; reports paired ratios and deltas. */
export async function compare<A, B>(name: string, baseline: Case<A>, candidate: Case<B>, plan: Plan = {}): Promise<Comparison> {
  const { blockSize = 50, blocks = 20, callsPerOp = 1 } = plan;
  const warmup = plan.warmup ?? 2 * blockSize;
  await prepare(baseline, warmup, false);
  await prepare(candidate, warmup, false);
  const a: Sample[] = [];
  const b: Sample[] = [];
  for (let i = 0; i < blocks; i++) {
    const order = i % 2 === 0 ? [baseline, candidate] : [candidate, baseline];
    for (const c of order) {
      c.setup?.();
      (c === baseline ? a : b).push(await sampleBlock(c.op, blockSize, callsPerOp));
    }
  }
  const ops = blocks * blockSize * callsPerOp;
  const base = toResult(baseline.label, a, ops);
  const cand = toResult(candidate.label, b, ops);
  const comparison: Comparison = {
    name,
    baseline: base,
    candidate: cand,
    // Paired: each candidate block against the baseline block run next to it, then the median of those.
    wallRatio: stats(a.map((x, i) => (b[i]?.wall ?? NaN) / x.wall)).median,
    cpuRatio: stats(a.map((x, i) => (b[i]?.cpu ?? NaN) / x.cpu)).median,
    cpuDeltaUs: stats(a.map((x, i) => (b[i]?.cpu ?? NaN) - x.cpu)).median,
  };
  results[current]?.push(comparison);
  return comparison;
}

const f = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const cell = (s: Stats) => `${f(s.median)} (${f(s.min)}–${f(s.max)}, p95 ${f(s.p95)})`;

/** Markdown for one section's results: comparisons in one table, single cases in another. */
export function markdown(rows: Array<Result | Comparison>): string {
  const out: string[] = [];
  const comps = rows.filter((r): r is Comparison => "wallRatio" in r);
  const singles = rows.filter((r): r is Result => !("wallRatio" in r));
  if (comps.length) {
    out.push("| case | side | calls | wall µs/call median (min–max, p95) | CPU µs/call median (min–max, p95) | wall ratio | CPU Δ µs/call |");
    out.push("|---|---|--:|---|---|--:|--:|");
    for (const c of comps) {
      out.push(`| ${c.name} | ${c.baseline.name} | ${c.baseline.ops} | ${cell(c.baseline.wallUs)} | ${cell(c.baseline.cpuUs)} | | |`);
      out.push(`| | ${c.candidate.name} | ${c.candidate.ops} | ${cell(c.candidate.wallUs)} | ${cell(c.candidate.cpuUs)} | **${c.wallRatio.toFixed(3)}** | **${c.cpuDeltaUs >= 0 ? "+" : ""}${f(c.cpuDeltaUs)}** |`);
    }
  }
  if (singles.length) {
    if (out.length) out.push("");
    out.push("| case | ops | ops/s | wall µs/op median (min–max, p95) | CPU µs/op median (min–max, p95) |");
    out.push("|---|--:|--:|---|---|");
    for (const r of singles) out.push(`| ${r.name} | ${r.ops} | ${Math.round(r.opsPerSec).toLocaleString("en-US")} | ${cell(r.wallUs)} | ${cell(r.cpuUs)} |`);
  }
  return out.join("\n");
}

/**
 * Runs the named sections (all when none), prints Markdown (or JSON with --json), writes latest.json.
 * A section that throws (a failed assertion) is reported and the exit code set, but the others still run.
 */
export async function runSections(names: string[], options: { json?: boolean; meta?: Record<string, unknown> } = {}): Promise<void> {
  const unknown = names.filter((n) => !sections.has(n));
  if (unknown.length) throw new Error(`Unknown bench section(s): ${unknown.join(", ")}. Known: ${[...sections.keys()].join(", ")}`);
  const errors: Record<string, string> = {};
  for (const [name, run] of sections) {
    if (names.length && !names.includes(name)) continue;
    current = name;
    results[name] = [];
    if (!options.json) console.log(`\n## ${name}\n`);
    await run().catch((error: unknown) => {
      errors[name] = error instanceof Error ? (error.stack ?? error.message) : String(error);
      console.error(`Section "${name}" FAILED:\n${errors[name]}`);
      process.exitCode = 1;
    });
    if (!options.json) console.log(markdown(results[name] ?? []));
  }
  const report = { ...options.meta, loadAvg1mAfter: Number(loadavg()[0]?.toFixed(2)), errors, sections: results };
  if (!options.json) console.log(`\n(1-minute load average at the end: ${report.loadAvg1mAfter})`);
  const dir = new URL("./results/", import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL("latest.json", dir), JSON.stringify(report, null, 2) + "\n");
  if (options.json) console.log(JSON.stringify(report, null, 2));
}

/** Replaces the section under `heading` in BENCHMARKS.md with `body` (or appends it), keeping every other section. */
export function writeBenchmarksSection(heading: string, body: string): void {
  const file = new URL("../BENCHMARKS.md", import.meta.url);
  const section = `${heading}\n\n${body.trim()}\n`;
  const current = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmarks\n";
  const start = current.indexOf(`${heading}\n`);
  if (start < 0) {
    writeFileSync(file, `${current.trimEnd()}\n\n${section}`);
    return;
  }
  const next = current.indexOf("\n## ", start + heading.length);
  writeFileSync(file, current.slice(0, start) + section + (next < 0 ? "" : current.slice(next)));
}
