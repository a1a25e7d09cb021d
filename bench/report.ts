/**
 * `npm run bench -- report`: the report CLI over a generated metering log of 1,000,000 lines (test/cli/fixture.ts:
 * held → outcome pairs interleaved with other calls, released and refused lines, dead workers' lone holds), in
 * a temp dir. Each case runs `main(["report", …])` in a fresh child process (`node --import tsx`) that reports its
 * own time (from `main`'s start to its end: no Node or tsx startup), its peak RSS and the most heap it used
 * (sampled between read chunks), and the totals, which are checked against the last line per callId (summed in
 * the parent, in BigInt) before anything is recorded. The same groups over 100,000 and 1,000,000 lines show
 * memory follows groups, not lines. Writes "## Report CLI (issue 15)" in BENCHMARKS.md.
 *
 * As a child (`node --import tsx bench/report.ts --report-child <argv as JSON>`) it runs one report; as a
 * module it only registers its section (bench/index.ts imports every bench file).
 */
import { fork } from "node:child_process";
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createGzip } from "node:zlib";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import type { MeterEntry } from "../src/budget/meter-sink.js";
import { lastLineTotals, meterLog, quotaValue } from "../test/cli/fixture.js";
import { assert, section, writeBenchmarksSection } from "./harness.js";

const CHILD_FLAG = "--report-child";
const HEADING = "## Report CLI (issue 15)";
const GOAL_SECONDS = 5;

interface ChildResult {
  code: number;
  ms: number;
  maxRssMiB: number;
  /** Most `heapUsed` seen (sampled every 10 ms, between chunks), minus the heap before the report. */
  heapGrowthMiB: number;
  stdoutBytes: number;
  totalNano: string;
  groups: number;
  stderr: string;
}

if (process.argv[2] === CHILD_FLAG) {
  const argv = JSON.parse(process.argv[3] ?? "[]") as string[];
  const { main } = await import("../src/cli/cli.js");
  let stdout = "";
  let stderr = "";
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  let heapMax = heapBefore;
  const sampler = setInterval(() => (heapMax = Math.max(heapMax, process.memoryUsage().heapUsed)), 10);
  const t0 = performance.now();
  const code = await main(argv, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t), isTTY: false } });
  const ms = performance.now() - t0;
  clearInterval(sampler);
  heapMax = Math.max(heapMax, process.memoryUsage().heapUsed);
  const report = argv.includes("json") ? (JSON.parse(stdout.replace(/"costNanoUsd": (\d+)/g, '"costNanoUsd": "$1"')) as { total: { costNanoUsd: string }; groups: unknown[] }) : undefined;
  const result: ChildResult = {
    code,
    ms,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    heapGrowthMiB: (heapMax - heapBefore) / 2 ** 20,
    stdoutBytes: stdout.length,
    totalNano: report?.total.costNanoUsd ?? "",
    groups: report?.groups.length ?? 0,
    stderr,
  };
  process.send!(result);
  process.disconnect();
}

interface Reference {
  lines: number;
  /** Per `--by` option: the total and group count of the last line per callId. */
  totals: Map<string, { totalNano: bigint; groups: number }>;
  /** Most calls whose last line read so far was "held" at once, and those left at the end (dead workers). */
  maxHeld: number;
  deadHeld: number;
}

const key = (entry: MeterEntry, by: string) =>
  by.split(",").map((d) => (d === "model" ? entry.model : d === "day" ? entry.time.slice(0, 10) : quotaValue(entry, d))).join("|");

/** Writes a generated log, and its gzipped copy when asked; the reference totals for each `--by`. */
async function generate(path: string, calls: number, bys: readonly string[], gzPath?: string): Promise<Reference> {
  let lines = 0;
  const seen: MeterEntry[] = [];
  const held = new Set<string>();
  let maxHeld = 0;
  function* source(): Generator<string> {
    let batch = "";
    for (const entry of meterLog({ calls, seed: 42, spanHours: 24 * 30, tenants: 20, users: 200 })) {
      lines++;
      // Only what the reference reads.
      seen.push({ callId: entry.callId, time: entry.time, costNanoUsd: entry.costNanoUsd, quotaKeys: entry.quotaKeys, model: entry.model, usage: entry.usage } as MeterEntry);
      if (entry.decision === "held") maxHeld = Math.max(maxHeld, held.add(entry.callId).size);
      else held.delete(entry.callId);
      batch += `${JSON.stringify(entry)}\n`;
      if (batch.length > 1 << 20) {
        yield batch;
        batch = "";
      }
    }
    if (batch) yield batch;
  }
  await pipeline(Readable.from(source()), createWriteStream(path));
  if (gzPath) await pipeline(createReadStream(path), createGzip({ level: 6 }), createWriteStream(gzPath));
  const totals = new Map(
    bys.map((by) => {
      const ref = lastLineTotals(seen, (e) => key(e, by));
      return [by, { totalNano: ref.total, groups: ref.groups.size }] as const;
    }),
  );
  return { lines, totals, maxHeld, deadHeld: held.size };
}

async function runChild(argv: string[], heapCapMiB?: number): Promise<ChildResult> {
  const child = fork(fileURLToPath(import.meta.url), [CHILD_FLAG, JSON.stringify(argv)], {
    execArgv: ["--import", "tsx", "--expose-gc", ...(heapCapMiB ? [`--max-old-space-size=${heapCapMiB}`] : [])],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const exited = once(child, "exit");
  const message = await Promise.race([once(child, "message").then(([m]) => m as ChildResult), exited.then(([code]) => ({ code: code as number }) as ChildResult)]);
  await exited;
  return message;
}

const mib = (n: number) => n.toFixed(1);
const secs = (ms: number) => (ms / 1000).toFixed(2);
const FEW = "tenant,model";
const MANY = "tenant,user,model,day";
const HEAP_CAP_MIB = 64;

section("report", async () => {
  const dir = await mkdtemp(join(tmpdir(), "langchain-metered-bench-report-"));
  try {
    // ~1.52 lines per call (holds, a second hold now and then, outcomes): 700,000 calls ≈ 1,060,000 lines.
    const big = join(dir, "usage.jsonl");
    const small = join(dir, "usage-100k.jsonl");
    const gz = join(dir, "usage.jsonl.gz");
    const bigRef = await generate(big, 700_000, [FEW, MANY], gz);
    const smallRef = await generate(small, 70_000, [FEW]);
    const rows: string[] = [];
    const cases: Array<{ label: string; file: string; ref: Reference; by: string; extra?: string[]; heapCap?: number; runs?: number }> = [
      { label: "≈100k lines", file: small, ref: smallRef, by: FEW },
      { label: "≈1M lines", file: big, ref: bigRef, by: FEW },
      { label: `≈1M lines, V8 old space capped at ${HEAP_CAP_MIB} MiB`, file: big, ref: bigRef, by: FEW, heapCap: HEAP_CAP_MIB, runs: 1 },
      { label: "≈1M lines, gzipped", file: gz, ref: bigRef, by: FEW },
      { label: "≈1M lines, with --html", file: big, ref: bigRef, by: FEW, extra: ["--html", join(dir, "report.html")] },
      { label: "≈1M lines, 4 dimensions", file: big, ref: bigRef, by: MANY, runs: 1 },
    ];
    const results: ChildResult[] = [];
    for (const c of cases) {
      const runs: ChildResult[] = [];
      const expected = c.ref.totals.get(c.by)!;
      for (let i = 0; i < (c.runs ?? 3); i++) {
        const result = await runChild(["report", c.file, "--by", c.by, "--format", "json", ...(c.extra ?? [])], c.heapCap);
        assert(result.code === 0, `${c.label}: exit ${result.code}: ${result.stderr ?? "(the process died)"}`);
        assert(result.totalNano === expected.totalNano.toString(), `${c.label}: total ${result.totalNano} ≠ last line per callId ${expected.totalNano}`);
        assert(result.groups === expected.groups, `${c.label}: ${result.groups} groups ≠ ${expected.groups}`);
        runs.push(result);
      }
      runs.sort((a, b) => a.ms - b.ms);
      const median = runs[Math.floor(runs.length / 2)]!;
      results.push(median);
      const size = (await stat(c.file)).size;
      const spread = runs.length > 1 ? ` (${secs(runs[0]!.ms)}–${secs(runs.at(-1)!.ms)})` : "";
      rows.push(
        `| ${c.label} | \`${c.by}\` | ${c.ref.lines.toLocaleString("en-US")} | ${mib(size / 2 ** 20)} | ${expected.groups.toLocaleString("en-US")} | ${secs(median.ms)}${spread} | ` +
          `${Math.round(c.ref.lines / (median.ms / 1000)).toLocaleString("en-US")} | ${mib(median.maxRssMiB)} | ${mib(median.heapGrowthMiB)} |`,
      );
      console.log(rows.at(-1));
    }
    const oneMillion = results[1]!;
    const body = [
      `\`npm run bench -- report\` (bench/report.ts), ${new Date().toISOString().slice(0, 10)}, Node ${process.version}. ` +
        "`langchain-metered report <log> --by <dims> --format json` over a generated metering log (test/cli/fixture.ts: " +
        "hard-capped calls' \"held\" lines with their outcome a few lines later, a hold written twice now and then, refused " +
        "and released lines at $0, dead workers' lone holds; 20 tenants, 200 users, 4 models, 30 days), each run in a fresh " +
        "child process, timed from `main`'s start to its end (no Node startup), median of 3 (min–max) unless one run. Every " +
        "run's total and group count are first checked against the last line per callId, summed in BigInt. Peak RSS is the " +
        "child's whole process (Node, tsx, the library's modules: ≈100 MiB for an empty log); heap growth is the most " +
        "`heapUsed` seen above the heap before the report, sampled every 10 ms between read chunks (garbage included).",
      "",
      "| log | `--by` | lines | MiB | groups | seconds | lines/s | peak RSS MiB | heap growth MiB |",
      "|---|---|--:|--:|--:|--:|--:|--:|--:|",
      ...rows,
      "",
      `Goal: ≤ ${GOAL_SECONDS} s for 1,000,000 lines: ${oneMillion.ms / 1000 <= GOAL_SECONDS ? "met" : "**not met**"} (${secs(oneMillion.ms)} s for ${bigRef.lines.toLocaleString("en-US")}).`,
      "",
      "Memory follows the groups and the calls parked on a \"held\" line (in flight, or a dead worker's hold, which stays " +
        `to the end), not the lines: the million-line log is summed with V8's old space capped at ${HEAP_CAP_MIB} MiB. It parks ` +
        `${bigRef.maxHeld.toLocaleString("en-US")} calls at most, ${bigRef.deadHeld.toLocaleString("en-US")} of them dead workers' holds ` +
        "(the generator kills the worker of 3 % of its calls, far more than a real fleet); a parked call keeps only what " +
        "counting reads (call id, time, model, provider, quota keys, amount), a few hundred bytes. Grouping by four dimensions makes " +
        `${bigRef.totals.get(MANY)!.groups.toLocaleString("en-US")} groups: memory and time then follow them (and the JSON output, one row per group).`,
    ].join("\n");
    writeBenchmarksSection(HEADING, body);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
