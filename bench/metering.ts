/**
 * Metering overhead (issue 10's bar): `MeteredChatModel` against plain `ChatOpenAI` on the same loopback fake
 * OpenAI, which runs in another process (bench/fake-server-process.ts), so `process.cpuUsage()` counts the
 * client's work only.
 *
 * `npm run bench -- metering`: standalone `invoke` with the default budget (goal ≤ +50 µs CPU per call and
 * ≤ 1.05× wall), the same with `budget: { hardCap: true }` (≤ +80 µs), a 20-chunk `stream()` consumed whole
 * (≤ +100 µs), and `priceUsage` alone. Every variant of a case runs interleaved with the others, block by block,
 * the order rotated and reversed (ABC CBA BCA ACB …); ratios and deltas are medians over the blocks of a round, with
 * their min–max. Each case also has an allocation pass: blocks again, each after a full GC, with
 * `v8.GCProfiler` on, so the JS heap allocated in a block is (used heap after − before) + what the GCs during
 * it freed.
 *
 * `npm run bench -- metering-import`: what a plain `ChatOpenAI` pays in a process where the library was imported
 * and a `MeteredChatModel` constructed (run scopes installed), against a process that never imported it. That
 * can't be interleaved in one process (installing can't be undone: it patches LangChain and may set up its
 * AsyncLocalStorage), so fresh child processes of each kind alternate (ABC CBA …) and their medians are compared.
 *
 * The library comes from src/ through tsx by default; `BENCH_LIB=dist` (or a path to a built index.js) loads a
 * tsup build instead, whose code has no tsx `__name` wrappers (see "Caveat: tsx" in BENCHMARKS.md).
 *
 * Profile: `node --import tsx bench/metering.ts --profile <invoke|capped|stream|plain-invoke|plain-stream> [calls]`
 * writes bench/results/<kind>.cpuprofile (node:inspector, 100 µs sampling, started after 500 warm-up calls) and
 * <kind>.heapprofile (sampling heap profiler on a fifth as many calls, collected objects included), and prints
 * self time by package and our own frames, and allocation per call likewise; `--analyze <file>` prints them again.
 * Under tsx our frames' line numbers are those of tsx's one-line output: their columns and names locate them.
 * A build's frames are mapped back to src/ when it has source maps: build with `SOURCEMAP=1 npm run build`.
 */
import { fork } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { SourceMap } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import v8 from "node:v8";
import vm from "node:vm";
import type { AIMessage, AIMessageChunk, UsageMetadata } from "@langchain/core/messages";
import { ChatOpenAI } from "@langchain/openai";
import type * as LibraryModule from "../src/index.js";
import type { Cost } from "../src/index.js";
import { assert, bench, section, type Stats, stats } from "./harness.js";
import { type BenchServer, startFakeServer } from "./fake-server-process.js";

export const MODEL = "gpt-4o-mini";
export const PROMPT = "Say hello.";
export const SCRIPTED_USAGE = { promptTokens: 1000, completionTokens: 200, cachedTokens: 200 };
/** 68 characters in 4-character deltas: a stream of 20 chunks (role, 17 text deltas, finish, usage). */
export const REPLY_TEXT = "The quick brown fox jumps over the lazy dog; the dog sleeps on. Done";
export const STREAM_CHUNKS = 20;
const usage: UsageMetadata = { input_tokens: 1000, output_tokens: 200, total_tokens: 1200, input_token_details: { cache_read: 200 } };
// gpt-4o-mini: 800 × $0.15/M + 200 cached × $0.075/M + 200 × $0.60/M
const EXPECTED_USD = 0.000255;

// ---------------------------------------------------------------------------------------------------------
// The library under test: src/ through tsx, or a build.
// ---------------------------------------------------------------------------------------------------------

export type Library = typeof LibraryModule;

/** Which copy of the library the bench measures: "src" (through tsx), "dist", or a path to a built index.js. */
export const LIBRARY = process.env.BENCH_LIB ?? "src";

function libraryUrl(): string {
  if (LIBRARY === "src") return new URL("../src/index.ts", import.meta.url).href;
  if (LIBRARY === "dist") return new URL("../dist/index.js", import.meta.url).href;
  return pathToFileURL(resolve(LIBRARY)).href;
}

let library: Promise<Library> | undefined;

/** Imports the library once (never at this module's import: a process that measures "never imported" must not). */
export function loadLibrary(): Promise<Library> {
  return (library ??= import(libraryUrl()) as Promise<Library>);
}

// ---------------------------------------------------------------------------------------------------------
// Checks shared by the metering benches.
// ---------------------------------------------------------------------------------------------------------

export function checkUsage(message: AIMessage | AIMessageChunk | undefined): void {
  assert(message?.usage_metadata?.input_tokens === 1000, "input_tokens is 1000");
  assert(message.usage_metadata.output_tokens === 200, "output_tokens is 200");
  assert(message.usage_metadata.input_token_details?.cache_read === 200, "cache_read is 200");
}

export function checkCost(cost: Cost | undefined, lib: Library): void {
  assert(cost, "the metered response carries response_metadata.cost");
  assert(cost.estimated === false, "the cost comes from reported usage, not an estimate");
  assert(cost.totalUsd === lib.priceUsage(usage, MODEL).totalUsd, "the cost equals priceUsage(usage)");
  assert(Math.abs(cost.totalUsd - EXPECTED_USD) < 1e-12, `the cost is $${EXPECTED_USD} (got ${cost.totalUsd})`);
}

export const costOf = (m: AIMessage | AIMessageChunk | undefined) => m?.response_metadata?.cost as Cost | undefined;

/** Consumes a whole stream; returns the chunk that carried usage, the one that carried the cost, and the chunk count. */
export async function drain(
  model: ChatOpenAI,
  options?: Parameters<ChatOpenAI["stream"]>[1],
): Promise<{ usageChunk: AIMessageChunk | undefined; costChunk: AIMessageChunk | undefined; count: number }> {
  let usageChunk: AIMessageChunk | undefined;
  let costChunk: AIMessageChunk | undefined;
  let count = 0;
  for await (const chunk of await model.stream(PROMPT, options)) {
    count++;
    if (chunk.usage_metadata) usageChunk = chunk;
    if (chunk.response_metadata?.cost) costChunk = chunk;
  }
  return { usageChunk, costChunk, count };
}

// ---------------------------------------------------------------------------------------------------------
// Interleaving N variants, with an allocation pass.
// ---------------------------------------------------------------------------------------------------------

export interface Variant<T = unknown> {
  label: string;
  /** One operation. Its resolved value is handed to `check` once, before anything is measured. */
  op: () => Promise<T>;
  check: (result: T) => void;
  /** Runs before the check, the warm-up and every block. */
  setup?: () => void;
}

export interface InterleavePlan {
  /** Timed blocks per variant (default 20) of `blockSize` ops (default 50). */
  blocks?: number;
  blockSize?: number;
  /** Warm-up ops per variant (default 2 × blockSize). */
  warmup?: number;
  /** Model calls per op (a round of 100 concurrent calls, an agent run of 2): figures are per call. */
  callsPerOp?: number;
  /** Allocation blocks per variant (default 8; 0 = no allocation pass) of `allocBlockSize` ops (default blockSize). */
  allocBlocks?: number;
  allocBlockSize?: number;
}

export interface Side {
  label: string;
  wallUs: Stats;
  cpuUs: Stats;
  /** JS heap allocated per call, bytes. */
  allocBytes?: Stats;
}

export interface Pair {
  baseline: string;
  candidate: string;
  /** Per block pair: candidate wall / baseline wall. */
  wallRatio: Stats;
  /** Per block pair: candidate − baseline CPU per call, µs. */
  cpuDeltaUs: Stats;
  /** Per block pair: candidate − baseline heap allocated per call, bytes. */
  allocDeltaBytes?: Stats;
}

export interface Interleaved {
  name: string;
  /** Calls measured per variant (timed blocks). */
  calls: number;
  blocks: number;
  sides: Side[];
  /** Every variant against every earlier one (the first is the baseline). */
  pairs: Pair[];
  /** 1-minute load average before and after. */
  load: [number, number];
}

type Sample = { wall: number; cpu: number };

async function timeBlock(op: () => Promise<unknown>, n: number, per: number): Promise<Sample> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await op();
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { wall: (wall * 1000) / (n * per), cpu: (cpu.user + cpu.system) / (n * per) };
}

let gcFunction: (() => void) | undefined;

/** A full GC (exposed at run time, as bench/memory.ts does). */
export function fullGc(): void {
  if (!gcFunction) {
    v8.setFlagsFromString("--expose-gc");
    gcFunction = vm.runInNewContext("gc") as () => void;
  }
  gcFunction();
}

/**
 * JS heap allocated while `n` ops run, per call: after a full GC (so the GCs during the block free only what the
 * block allocated), used heap after − before, plus what every GC during the block freed (v8.GCProfiler).
 */
async function allocBlock(op: () => Promise<unknown>, n: number, per: number): Promise<number> {
  fullGc();
  const profiler = new v8.GCProfiler();
  profiler.start();
  const before = v8.getHeapStatistics().used_heap_size;
  for (let i = 0; i < n; i++) await op();
  const after = v8.getHeapStatistics().used_heap_size;
  const { statistics } = profiler.stop() as { statistics: Array<{ beforeGC: GcHeap; afterGC: GcHeap }> };
  let freed = 0;
  for (const gc of statistics) freed += gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize;
  return (after - before + freed) / (n * per);
}
type GcHeap = { heapStatistics: { usedHeapSize: number } };

const load1m = () => Number(loadavg()[0]?.toFixed(2));

/**
 * Runs the variants interleaved block by block, then the allocation pass. The order rotates every two
 * blocks and is reversed every other one (ABC CBA BCA ACB CAB BAC …), so each variant runs first, in the
 * middle and last, after each of the others, equally often: with a fixed ABC CBA the middle variant always
 * ran right after another one's garbage and paid for its collection (+100–200 µs per 20-chunk stream).
 */
export async function interleave(name: string, variants: Variant<any>[], plan: InterleavePlan = {}): Promise<Interleaved> {
  const blockSize = plan.blockSize ?? 50;
  const blocks = Number(process.env.BENCH_BLOCKS ?? 0) || (plan.blocks ?? 20);
  const per = plan.callsPerOp ?? 1;
  const warmup = plan.warmup ?? 2 * blockSize;
  const allocBlocks = plan.allocBlocks ?? 8;
  const allocBlockSize = plan.allocBlockSize ?? blockSize;
  const loadBefore = load1m();
  for (const v of variants) {
    v.setup?.();
    v.check(await v.op());
    for (let i = 0; i < warmup; i++) await v.op();
  }
  const order = (i: number) => {
    const shift = Math.floor(i / 2) % variants.length;
    const rotated = [...variants.slice(shift), ...variants.slice(0, shift)];
    return i % 2 === 0 ? rotated : rotated.reverse();
  };
  const samples = variants.map((): Sample[] => []);
  for (let b = 0; b < blocks; b++) {
    for (const v of order(b)) {
      v.setup?.();
      samples[variants.indexOf(v)]?.push(await timeBlock(v.op, blockSize, per));
    }
  }
  const allocs = variants.map((): number[] => []);
  for (let b = 0; b < allocBlocks; b++) {
    for (const v of order(b)) {
      v.setup?.();
      allocs[variants.indexOf(v)]?.push(await allocBlock(v.op, allocBlockSize, per));
    }
  }
  const sides: Side[] = variants.map((v, i) => ({
    label: v.label,
    wallUs: stats((samples[i] ?? []).map((s) => s.wall)),
    cpuUs: stats((samples[i] ?? []).map((s) => s.cpu)),
    ...(allocBlocks ? { allocBytes: stats(allocs[i] ?? []) } : {}),
  }));
  const pairs: Pair[] = [];
  for (let j = 1; j < variants.length; j++) {
    for (let i = 0; i < j; i++) {
      const a = samples[i] ?? [];
      const c = samples[j] ?? [];
      const aa = allocs[i] ?? [];
      const ca = allocs[j] ?? [];
      pairs.push({
        baseline: variants[i]?.label ?? "",
        candidate: variants[j]?.label ?? "",
        wallRatio: stats(a.map((x, k) => (c[k]?.wall ?? NaN) / x.wall)),
        cpuDeltaUs: stats(a.map((x, k) => (c[k]?.cpu ?? NaN) - x.cpu)),
        ...(allocBlocks ? { allocDeltaBytes: stats(aa.map((x, k) => (ca[k] ?? NaN) - x)) } : {}),
      });
    }
  }
  const result: Interleaved = { name, calls: blocks * blockSize * per, blocks, sides, pairs, load: [loadBefore, load1m()] };
  record(result);
  return result;
}

// ---------------------------------------------------------------------------------------------------------
// Reporting: Markdown to stdout, JSON to bench/results/<section>.json.
// ---------------------------------------------------------------------------------------------------------

const recorded: Interleaved[] = [];
function record(result: Interleaved): void {
  recorded.push(result);
}

const f = (n: number) => (!Number.isFinite(n) ? "–" : Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2));
const signed = (n: number) => `${n >= 0 ? "+" : ""}${f(n)}`;
const kb = (bytes: number) => (bytes / 1024).toFixed(1);
const signedKb = (bytes: number) => `${bytes >= 0 ? "+" : ""}${kb(bytes)}`;
const range = (s: Stats, fmt: (n: number) => string) => `${fmt(s.median)} (${fmt(s.min)} to ${fmt(s.max)})`;

/** Markdown for interleaved results: one row per variant, then one per pair against the first (or a variant in `alsoAgainst`). */
export function interleavedMarkdown(results: Interleaved[], alsoAgainst: string[] = []): string {
  const out = [
    "| case | variant | wall µs/call, median (min–max) | CPU µs/call, median (min–max) | heap alloc KB/call | vs | wall ratio, median (min to max) | CPU Δ µs/call, median (min to max) | alloc Δ KB/call, median (min to max) | load |",
    "|---|---|---|---|--:|---|---|---|---|---|",
  ];
  for (const r of results) {
    r.sides.forEach((s, i) => {
      const alloc = s.allocBytes ? kb(s.allocBytes.median) : "";
      const name = i === 0 ? `${r.name} (${r.calls} calls/variant)` : "";
      const load = i === 0 ? `${r.load[0]} → ${r.load[1]}` : "";
      out.push(`| ${name} | ${s.label} | ${range(s.wallUs, f).replace(" to ", "–")} | ${range(s.cpuUs, f).replace(" to ", "–")} | ${alloc} | | | | | ${load} |`);
    });
    for (const p of r.pairs) {
      if (p.baseline !== r.sides[0]?.label && !alsoAgainst.includes(p.baseline)) continue;
      out.push(
        `| | **${p.candidate}** | | | | ${p.baseline} | **${range(p.wallRatio, (n) => n.toFixed(3))}** | **${range(p.cpuDeltaUs, signed)}** | ${p.allocDeltaBytes ? range(p.allocDeltaBytes, signedKb) : ""} | |`,
      );
    }
  }
  return out.join("\n");
}

/** Prints the section's interleaved results and writes them, with the machine's state, to bench/results/<name>.json. */
export function report(sectionName: string, extra: Record<string, unknown> = {}, alsoAgainst: string[] = []): void {
  const results = recorded.splice(0);
  if (results.length) console.log(interleavedMarkdown(results, alsoAgainst) + "\n");
  const dir = new URL("./results/", import.meta.url);
  mkdirSync(dir, { recursive: true });
  const file = new URL(`${sectionName}${LIBRARY === "src" ? "" : "-" + LIBRARY.replace(/[^a-z0-9]+/gi, "_")}.json`, dir);
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), node: process.version, library: LIBRARY, load1m: load1m(), results, ...extra }, null, 2) + "\n");
}

// ---------------------------------------------------------------------------------------------------------
// Section: metering.
// ---------------------------------------------------------------------------------------------------------

export const fieldsFor = (server: BenchServer) => ({ model: MODEL, apiKey: "test", maxRetries: 0, configuration: { baseURL: server.url } });

/**
 * What a metered model is given on top of the plain fields: the loopback stands for api.openai.com. Without it,
 * a base URL no provider owns reads as a proxy that may state the call's cost in a header (LiteLLM), and every
 * call captures its response headers, which a user of OpenAI itself never pays (see the "proxy" variant).
 */
export const AS_OPENAI = { provider: "openai" } as const;

section("metering", async () => {
  const lib = await loadLibrary();
  const server = await startFakeServer({ content: REPLY_TEXT, usage: SCRIPTED_USAGE });
  try {
    const fields = fieldsFor(server);
    const plain = new ChatOpenAI(fields);
    const metered = new lib.MeteredChatModel({ ...fields, ...AS_OPENAI });
    const capped = new lib.MeteredChatModel({ ...fields, ...AS_OPENAI, budget: { hardCap: true } });
    const unbudgeted = new lib.MeteredChatModel({ ...fields, ...AS_OPENAI, budget: false });
    const proxied = new lib.MeteredChatModel(fields);

    const invoke = (label: string, model: ChatOpenAI, isMetered: boolean): Variant<AIMessage> => ({
      label,
      op: () => model.invoke(PROMPT),
      check: (m) => {
        checkUsage(m);
        if (isMetered) checkCost(costOf(m), lib);
        else assert(costOf(m) === undefined, "plain ChatOpenAI carries no cost");
      },
    });
    await interleave("invoke, sequential", [
      invoke("ChatOpenAI", plain, false),
      invoke("MeteredChatModel (default $2 budget)", metered, true),
      invoke("MeteredChatModel, hardCap: true", capped, true),
      invoke("MeteredChatModel, budget: false", unbudgeted, true),
      invoke("MeteredChatModel, proxy base URL (response headers captured)", proxied, true),
    ], { blocks: 100, blockSize: 20, warmup: 100 });

    const stream = (label: string, model: ChatOpenAI, isMetered: boolean): Variant<Awaited<ReturnType<typeof drain>>> => ({
      label,
      op: () => drain(model),
      check: ({ usageChunk, costChunk, count }) => {
        assert(count === STREAM_CHUNKS, `the stream has ${STREAM_CHUNKS} chunks (got ${count})`);
        checkUsage(usageChunk);
        if (isMetered) {
          assert(costChunk === usageChunk, "the cost rides on the usage chunk");
          checkCost(costOf(costChunk), lib);
        } else assert(costChunk === undefined, "plain ChatOpenAI carries no cost");
      },
    });
    await interleave(`stream, ${STREAM_CHUNKS} chunks, sequential`, [
      stream("ChatOpenAI", plain, false),
      stream("MeteredChatModel (default $2 budget)", metered, true),
      stream("MeteredChatModel, hardCap: true", capped, true),
    ], { blocks: 84, blockSize: 15, warmup: 100 });

    const ROUND = 100;
    const round = (label: string, model: ChatOpenAI, isMetered: boolean): Variant<AIMessage[]> => ({
      label,
      op: () => Promise.all(Array.from({ length: ROUND }, () => model.invoke(PROMPT))),
      check: (ms) => {
        assert(ms.length === ROUND, `${ROUND} replies`);
        for (const m of ms) {
          checkUsage(m);
          if (isMetered) checkCost(costOf(m), lib);
        }
      },
    });
    await interleave(
      `invoke, rounds of ${ROUND} concurrent (per call)`,
      [round("ChatOpenAI", plain, false), round("MeteredChatModel (default $2 budget)", metered, true)],
      { blockSize: 1, blocks: 20, warmup: 3, callsPerOp: ROUND, allocBlocks: 4 },
    );
  } finally {
    await server.close();
  }
  report("metering");

  await bench(
    {
      label: `priceUsage(usage, "${MODEL}")`,
      op: () => lib.priceUsage(usage, MODEL),
      check: (cost) => assert(Math.abs(cost.totalUsd - EXPECTED_USD) < 1e-12, `priceUsage is $${EXPECTED_USD}`),
    },
    { sync: true, blockSize: 5_000, blocks: 20, warmup: 20_000 },
  );
});

// ---------------------------------------------------------------------------------------------------------
// Section: metering-import (fresh processes).
// ---------------------------------------------------------------------------------------------------------

type ProcessKind = "never" | "imported" | "constructed" | "never+langchain" | "constructed+langchain";
const KIND_LABEL: Record<ProcessKind, string> = {
  never: "library never imported",
  imported: "library imported, no model constructed",
  constructed: "library imported + a MeteredChatModel constructed (run scopes installed)",
  "never+langchain": "`langchain` imported (it sets up LangChain's AsyncLocalStorage), library never imported",
  "constructed+langchain": "`langchain` imported, library imported + a MeteredChatModel constructed",
};

type Phase = "invoke" | "stream" | "invokeAfterStreams";
const PHASES: Array<[Phase, string]> = [
  ["invoke", "invoke, before any stream"],
  ["stream", "20-chunk stream"],
  ["invokeAfterStreams", "invoke, after streams ran"],
];

interface ProcessFigures {
  kind: ProcessKind;
  /** Whether LangChain's AsyncLocalStorage existed before the library (and after it, when it was loaded). */
  storageBefore: boolean;
  storageAfter: boolean;
  phases: Record<Phase, { cpuUs: number; wallUs: number; allocBytes: number }>;
}

const STORAGE_KEY = Symbol.for("ls:tracing_async_local_storage");
const hasStorage = () => !!(globalThis as Record<symbol, unknown>)[STORAGE_KEY];

/**
 * In a fresh child: plain ChatOpenAI's CPU and wall per call (median over blocks) and heap allocated per call,
 * after the kind's set-up, in three phases: invokes before any stream has run (an app that only invokes), then
 * streams, then invokes again (the first stream can change the process for good: see BENCHMARKS.md).
 */
async function measurePlainInThisProcess(kind: ProcessKind, url: string, blocks: number, blockSize: number): Promise<ProcessFigures> {
  const fields = { model: MODEL, apiKey: "test", maxRetries: 0, configuration: { baseURL: url } };
  if (kind.endsWith("+langchain")) await import("langchain");
  const storageBefore = hasStorage();
  if (!kind.startsWith("never")) {
    const lib = await loadLibrary();
    if (kind.startsWith("constructed")) new lib.MeteredChatModel(fields);
  }
  const storageAfter = hasStorage();
  const plain = new ChatOpenAI(fields);
  const invoke = async () => checkUsage(await plain.invoke(PROMPT));
  const stream = async () => {
    const { usageChunk, costChunk, count } = await drain(plain);
    assert(count === STREAM_CHUNKS && costChunk === undefined, "a plain 20-chunk stream");
    checkUsage(usageChunk);
  };
  const med = (xs: number[]) => stats(xs).median;
  const phase = async (op: () => Promise<void>, warmup: number) => {
    for (let i = 0; i < warmup; i++) await op();
    const samples: Sample[] = [];
    for (let b = 0; b < blocks; b++) samples.push(await timeBlock(op, blockSize, 1));
    const allocs: number[] = [];
    for (let b = 0; b < 6; b++) allocs.push(await allocBlock(op, blockSize, 1));
    return { cpuUs: med(samples.map((x) => x.cpu)), wallUs: med(samples.map((x) => x.wall)), allocBytes: med(allocs) };
  };
  const invokeOnly = await phase(invoke, 4 * blockSize);
  const streams = await phase(stream, 2 * blockSize);
  const invokeAfter = await phase(invoke, blockSize);
  return { kind, storageBefore, storageAfter, phases: { invoke: invokeOnly, stream: streams, invokeAfterStreams: invokeAfter } };
}

function measurePlainInChild(kind: ProcessKind, url: string, blocks: number, blockSize: number): Promise<ProcessFigures> {
  const child = fork(fileURLToPath(import.meta.url), ["--plain-process", kind, url, String(blocks), String(blockSize)], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    child.once("message", (m) => resolve(m as ProcessFigures));
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`plain-call process (${kind}) exited without a result (code ${code})`)));
  });
}

section("metering-import", async () => {
  const rounds = Number(process.env.BENCH_IMPORT_ROUNDS ?? 4);
  const kinds: ProcessKind[] = ["never", "imported", "constructed", "never+langchain", "constructed+langchain"];
  const server = await startFakeServer({ content: REPLY_TEXT, usage: SCRIPTED_USAGE });
  const loadBefore = load1m();
  const runs: ProcessFigures[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      for (const kind of r % 2 === 0 ? kinds : [...kinds].reverse()) runs.push(await measurePlainInChild(kind, server.url, 12, 50));
    }
  } finally {
    await server.close();
  }
  const loadAfter = load1m();
  const by = (kind: ProcessKind) => runs.filter((r) => r.kind === kind);
  const med = (xs: number[]) => stats(xs).median;
  const rows: string[] = [
    `| plain ChatOpenAI, fresh processes (${rounds} per kind, alternating; each: median of 12 blocks × 50 calls) | ${PHASES.map(([, label]) => `${label}: CPU µs/call, median of processes (min–max) | Δ µs | alloc KB/call (Δ)`).join(" | ")} | AsyncLocalStorage before → after |`,
    `|---|${PHASES.map(() => "---|--:|---|").join("")}---|`,
  ];
  for (const kind of kinds) {
    const own = by(kind);
    // Each kind against the process that differs only by the library: never imported, with or without `langchain`.
    const never = by(kind.endsWith("+langchain") ? "never+langchain" : "never");
    const base = kind.startsWith("never");
    const cells = PHASES.map(([phase]) => {
      const cpu = stats(own.map((r) => r.phases[phase].cpuUs));
      const dCpu = med(own.map((r) => r.phases[phase].cpuUs)) - med(never.map((r) => r.phases[phase].cpuUs));
      const alloc = med(own.map((r) => r.phases[phase].allocBytes));
      const dAlloc = alloc - med(never.map((r) => r.phases[phase].allocBytes));
      return `${f(cpu.median)} (${f(cpu.min)}–${f(cpu.max)}) | ${base ? "" : `**${signed(dCpu)}**`} | ${kb(alloc)}${base ? "" : ` (**${signedKb(dAlloc)}**)`}`;
    });
    const storage = [...new Set(own.map((r) => `${r.storageBefore ? "yes" : "no"} → ${r.storageAfter ? "yes" : "no"}`))].join(", ");
    rows.push(`| ${KIND_LABEL[kind]} | ${cells.join(" | ")} | ${storage} |`);
  }
  console.log(rows.join("\n"));
  console.log(`\n(1-minute load ${loadBefore} → ${loadAfter}; library: ${LIBRARY}.)\n`);
  report("metering-import", { runs, load: [loadBefore, loadAfter] });
});

// ---------------------------------------------------------------------------------------------------------
// Profiling the metered invoke path.
// ---------------------------------------------------------------------------------------------------------

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
  positionTicks?: Array<{ line: number; ticks: number }>;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
  /** Calls made while it ran (written by `profileLoop`). */
  benchCalls?: number;
}

type ProfileKind = "invoke" | "capped" | "stream" | "plain-invoke" | "plain-stream";

interface HeapNode {
  callFrame: ProfileNode["callFrame"];
  selfSize: number;
  children: HeapNode[];
}

async function profileLoop(kind: ProfileKind, calls: number): Promise<{ cpu: string; heap: string }> {
  const { Session } = await import("node:inspector");
  const lib = await loadLibrary();
  const server = await startFakeServer({ content: REPLY_TEXT, usage: SCRIPTED_USAGE });
  const fields = fieldsFor(server);
  const model =
    kind === "plain-invoke" || kind === "plain-stream"
      ? new ChatOpenAI(fields)
      : new lib.MeteredChatModel({ ...fields, ...AS_OPENAI, ...(kind === "capped" ? { budget: { hardCap: true } } : {}) });
  const op = kind === "stream" || kind === "plain-stream" ? () => drain(model) : () => model.invoke(PROMPT);
  for (let i = 0; i < 500; i++) await op();
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<any>((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
  const dir = new URL("./results/", import.meta.url);
  mkdirSync(dir, { recursive: true });
  const suffix = LIBRARY === "src" ? "" : "-" + LIBRARY.replace(/[^a-z0-9]+/gi, "_");
  const cpuFile = fileURLToPath(new URL(`${kind}${suffix}.cpuprofile`, dir));
  const heapFile = fileURLToPath(new URL(`${kind}${suffix}.heapprofile`, dir));

  // CPU first, then (separately, so neither profiler skews the other) allocations, on a fifth of the calls.
  await post("Profiler.enable");
  await post("Profiler.setSamplingInterval", { interval: 100 });
  await post("Profiler.start");
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) await op();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const { profile } = (await post("Profiler.stop")) as { profile: CpuProfile };
  writeFileSync(cpuFile, JSON.stringify({ ...profile, benchCalls: calls }));

  const heapCalls = Math.max(1, Math.round(calls / 5));
  await post("HeapProfiler.enable");
  await post("HeapProfiler.startSampling", { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  for (let i = 0; i < heapCalls; i++) await op();
  const heap = (await post("HeapProfiler.stopSampling")) as { profile: { head: HeapNode } };
  writeFileSync(heapFile, JSON.stringify({ calls: heapCalls, ...heap.profile }));
  session.disconnect();
  await server.close();
  console.log(
    `${kind} (${LIBRARY}): ${calls} calls, ${((wallMs * 1000) / calls).toFixed(0)} µs wall and ${((cpu.user + cpu.system) / calls).toFixed(0)} µs CPU per call under the CPU profiler`,
  );
  return { cpu: cpuFile, heap: heapFile };
}

const sourceMaps = new Map<string, SourceMap | undefined>();

/** A built frame's place in src/, from the build's source map. */
function originalPlace(url: string, line: number, column: number): string | undefined {
  if (!sourceMaps.has(url)) {
    try {
      sourceMaps.set(url, new SourceMap(JSON.parse(readFileSync(fileURLToPath(url) + ".map", "utf8"))));
    } catch {
      sourceMaps.set(url, undefined);
    }
  }
  const entry = sourceMaps.get(url)?.findEntry(line, column) as { originalSource?: string; originalLine?: number } | undefined;
  const source = entry?.originalSource ? /src\/(.+)$/.exec(entry.originalSource)?.[1] : undefined;
  return source && entry?.originalLine !== undefined ? `${source}:${entry.originalLine + 1}` : undefined;
}

/** Where a frame belongs: ours (src/ or a build of it), a package, node internals, or V8's pseudo-frames. */
function frameGroup(frame: ProfileNode["callFrame"]): { ours?: string; group: string } {
  const src = /\/src\/(.+)$/.exec(frame.url)?.[1];
  const built = !frame.url.includes("node_modules") && /\/(?:dist|bench-dist)\/(.+)$/.test(frame.url);
  if (src) return { ours: `${frame.functionName || "(anonymous)"} — ${src} (tsx col ${frame.columnNumber + 1})`, group: "langchain-metered" };
  if (built) {
    const place = originalPlace(frame.url, frame.lineNumber, frame.columnNumber) ?? `${frame.url.split("/").pop()}:${frame.lineNumber + 1}`;
    return { ours: `${frame.functionName || "(anonymous)"} — ${place}`, group: "langchain-metered" };
  }
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(frame.url)?.[1];
  return { group: pkg ?? (frame.url.startsWith("node:") ? "node internals" : frame.url || frame.functionName || "(native)") };
}

function table(title: string, rows: Map<string, number>, total: number, unit: (n: number) => string, top: number): string[] {
  const lines = [`| ${title} | self | share |`, "|---|--:|--:|"];
  for (const [key, n] of [...rows].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`| ${key} | ${unit(n)} | ${((100 * n) / total).toFixed(1)}% |`);
  return lines;
}

/** Self time per call by group (package, node internals, GC…), and per frame of ours. */
function selfTimes(profile: CpuProfile): { total: number; idle: number; groups: Map<string, number>; ours: Map<string, number>; lines: Map<string, number> } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  const hits = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] ?? 0;
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
    hits.set(id, (hits.get(id) ?? 0) + 1);
  }
  let total = 0;
  let idle = 0;
  const ours = new Map<string, number>();
  const groups = new Map<string, number>();
  const lines = new Map<string, number>();
  for (const [id, us] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const frame = node.callFrame;
    if (frame.functionName === "(idle)") {
      idle += us;
      continue;
    }
    total += us;
    const { ours: key, group } = frameGroup(frame);
    groups.set(group, (groups.get(group) ?? 0) + us);
    if (!key) continue;
    ours.set(key, (ours.get(key) ?? 0) + us);
    // Line by line, where a build's source map can place the ticks.
    const perTick = us / (hits.get(id) ?? 1);
    for (const { line, ticks } of node.positionTicks ?? []) {
      const place = frame.url.includes("/src/") ? undefined : originalPlace(frame.url, line - 1, 10_000);
      const lineKey = place && `${place} (in ${frame.functionName || "(anonymous)"})`;
      if (lineKey) lines.set(lineKey, (lines.get(lineKey) ?? 0) + ticks * perTick);
    }
  }
  return { total, idle, groups, ours, lines };
}

/** Two profiles' self time per call, group by group: where the candidate's extra time goes. */
export function diffProfiles(baseFile: string, candidateFile: string): string {
  const [base, cand] = [baseFile, candidateFile].map((file) => JSON.parse(readFileSync(file, "utf8")) as CpuProfile);
  if (!base?.benchCalls || !cand?.benchCalls) throw new Error("profiles written by --profile carry their call counts");
  const a = selfTimes(base);
  const b = selfTimes(cand);
  const perCall = (us: number, calls: number) => us / calls;
  const keys = new Set([...a.groups.keys(), ...b.groups.keys()]);
  const rows = [...keys]
    .map((k) => [k, perCall(a.groups.get(k) ?? 0, base.benchCalls ?? 1), perCall(b.groups.get(k) ?? 0, cand.benchCalls ?? 1)] as const)
    .sort((x, y) => Math.abs(y[2] - y[1]) - Math.abs(x[2] - x[1]))
    .slice(0, 15);
  return [
    `| group (profiled µs per call) | ${baseFile.split("/").pop()} | ${candidateFile.split("/").pop()} | Δ |`,
    "|---|--:|--:|--:|",
    `| **all (idle left out)** | ${f(perCall(a.total, base.benchCalls))} | ${f(perCall(b.total, cand.benchCalls))} | ${signed(perCall(b.total, cand.benchCalls) - perCall(a.total, base.benchCalls))} |`,
    ...rows.map(([k, x, y]) => `| ${k} | ${f(x)} | ${f(y)} | ${signed(y - x)} |`),
  ].join("\n");
}

/** Self time per function: grouped by package (node internals, GC…), and our own frames one by one. */
export function analyzeProfile(file: string, top = 25): string {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const { total, idle, groups, ours, lines } = selfTimes(profile);
  const calls = profile.benchCalls ?? 1;
  const unit = (us: number) => `${(us / 1000).toFixed(1)} ms (${(us / calls).toFixed(1)} µs/call)`;
  const oursTotal = [...ours.values()].reduce((x, y) => x + y, 0);
  return [
    `${file}: ${(total / 1000).toFixed(0)} ms of samples over ${calls} calls (idle ${(idle / 1000).toFixed(0)} ms left out); our own frames ${(oursTotal / calls).toFixed(1)} µs/call`,
    "",
    ...table("group", groups, total, unit, 14),
    "",
    ...table("our frame (CPU self time)", ours, total, unit, top),
    ...(lines.size ? ["", ...table("our hottest lines (build, source-mapped)", lines, total, unit, top)] : []),
  ].join("\n");
}

/** Allocations (sampled, collected objects included) per call: by package, and our own frames one by one. */
export function analyzeHeapProfile(file: string, top = 15): string {
  const profile = JSON.parse(readFileSync(file, "utf8")) as { calls: number; head: HeapNode };
  const ours = new Map<string, number>();
  const groups = new Map<string, number>();
  let total = 0;
  const walk = (node: HeapNode) => {
    if (node.selfSize) {
      total += node.selfSize;
      const { ours: key, group } = frameGroup(node.callFrame);
      groups.set(group, (groups.get(group) ?? 0) + node.selfSize);
      if (key) ours.set(key, (ours.get(key) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child);
  };
  walk(profile.head);
  const perCall = (bytes: number) => `${(bytes / profile.calls / 1024).toFixed(2)} KB/call`;
  return [
    `${file}: ${(total / profile.calls / 1024).toFixed(1)} KB allocated per call (sampled, ${profile.calls} calls)`,
    "",
    ...table("group", groups, total, perCall, 12),
    "",
    ...table("our frame (bytes allocated)", ours, total, perCall, top),
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------------------
// Child modes (bench/index.ts imports this file with none of these arguments).
// ---------------------------------------------------------------------------------------------------------

if (process.argv[2] === "--plain-process" && process.send) {
  const [kind, url, blocks, blockSize] = process.argv.slice(3);
  const figures = await measurePlainInThisProcess(kind as ProcessKind, url ?? "", Number(blocks), Number(blockSize));
  process.send(figures, () => process.exit(0));
} else if (process.argv[2] === "--profile") {
  const files = await profileLoop((process.argv[3] ?? "invoke") as ProfileKind, Number(process.argv[4] ?? 5000));
  console.log(analyzeProfile(files.cpu) + "\n\n" + analyzeHeapProfile(files.heap));
} else if (process.argv[2] === "--diff") {
  console.log(diffProfiles(process.argv[3] ?? "", process.argv[4] ?? ""));
} else if (process.argv[2] === "--analyze") {
  const file = process.argv[3] ?? "";
  console.log(file.endsWith(".heapprofile") ? analyzeHeapProfile(file, Number(process.argv[4] ?? 15)) : analyzeProfile(file, Number(process.argv[4] ?? 25)));
}
