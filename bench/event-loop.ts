/**
 * `npm run bench -- event-loop`: the longest event-loop stall of the first hard-capped call, each in a fresh
 * process (bench/event-loop.ts run as a child), against the loopback fake OpenAI in another process.
 * Goal (issue 10): ≤ 50 ms; 0.1.0 blocked for 0.75–3.7 s while its tokenizer loaded.
 *
 * Two monitors run through the call: the longest gap between ticks of a 1 ms `setInterval` (the tick period
 * included), and `perf_hooks.monitorEventLoopDelay({ resolution: 1 })`'s max. Each child first imports the
 * library and constructs the model (stalls reported apart: module evaluation, genai-prices' data), lets 50 ms
 * pass, then makes its first call. Modes:
 *
 *   plain        plain ChatOpenAI's first call (what any fresh process pays: undici, the SDK, JIT);
 *   capped-short `budget: { hardCap: true }`, a short prompt: the byte bound decides, no tokenizer;
 *   capped-long  `budget: { hardCap: true, limitUsd: 0.01 }` and a 4,590-character prompt: the byte bound comes
 *                near the limit, so the input's tokens are counted and the o200k_base tokenizer loads;
 *   capped-long-warm the same after one plain ChatOpenAI call warmed the HTTP client (the library's own stall).
 *
 * `BENCH_BASELINE_LIB=<path to another copy's src/index.ts>` (e.g. 0.1.0 extracted with `git archive`) adds
 * the capped-long modes for that copy. `BENCH_EVENT_LOOP_RUNS` (default 5) and `BENCH_EVENT_LOOP_MODES`
 * (comma-separated) narrow it; `BENCH_EVENT_LOOP_PROFILE=1` prints what ran during each call's longest stall.
 */
import { fork } from "node:child_process";
import { loadavg } from "node:os";
import { resolve } from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { AIMessage } from "@langchain/core/messages";
import { ChatOpenAI } from "@langchain/openai";
import { startFakeServer } from "./fake-server-process.js";
import { assert, section, stats, type Stats } from "./harness.js";
import { AS_OPENAI, LIBRARY, type Library, loadLibrary, MODEL, REPLY_TEXT, SCRIPTED_USAGE } from "./metering.js";

type Mode = "plain" | "capped-short" | "capped-long" | "capped-long-warm";
const MODES: Mode[] = ["plain", "capped-short", "capped-long", "capped-long-warm"];
const LIMIT_USD = 0.01;

/** 4,590 characters of ordinary English (960 o200k_base tokens): its byte bound takes a $0.01 hard cap near its limit. */
export const LONG_PROMPT = Array.from(
  { length: 40 },
  (_, i) => `Paragraph ${i + 1}: the committee reviewed the quarterly figures, noted a modest rise in costs, and asked for a summary.`,
).join(" ");

interface FirstCall {
  mode: Mode;
  library: string;
  /** Import of the library and construction of the model: their longest stalls, ms (before the call). */
  importMs: number;
  importMaxGapMs: number;
  constructMaxGapMs: number;
  /** The first call: its duration and the longest stall while it ran, ms. */
  callMs: number;
  maxGapMs: number;
  loopDelayMaxMs: number;
  /** Whether the tokenizer had loaded by the end of the call (src only: undefined for a build). */
  tokenizerLoaded: boolean | undefined;
}

/** A 1 ms ticker that remembers the longest gap between two ticks since the last reset (and when it ended). */
function gapMonitor() {
  let last = performance.now();
  let max = 0;
  let maxEndedAt = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    if (now - last > max) {
      max = now - last;
      maxEndedAt = Number(process.hrtime.bigint() / 1000n); // µs, the clock V8's profiles use (CLOCK_MONOTONIC)
    }
    last = now;
  }, 1);
  return {
    reset: () => void ((last = performance.now()), (max = 0)),
    /** The longest gap so far, counting the one still open. */
    max: () => Math.max(max, performance.now() - last),
    /** The longest closed gap: [start, end] in µs of the monotonic clock. */
    window: (): [number, number] => [maxEndedAt - max * 1000, maxEndedAt],
    stop: () => clearInterval(timer),
  };
}

async function firstCallInThisProcess(mode: Mode, url: string, libPath: string): Promise<FirstCall> {
  const fields = { model: MODEL, apiKey: "test", maxRetries: 0, configuration: { baseURL: url } };
  const gaps = gapMonitor();
  await sleep(50);
  gaps.reset();
  const t0 = performance.now();
  const lib: Library | undefined = mode === "plain" ? undefined : libPath === "default" ? await loadLibrary() : ((await import(pathToFileURL(resolve(libPath)).href)) as Library);
  const importMs = performance.now() - t0;
  await sleep(20);
  const importMaxGapMs = gaps.max();
  gaps.reset();
  const model = lib
    ? new lib.MeteredChatModel({ ...fields, ...AS_OPENAI, budget: mode === "capped-short" ? { hardCap: true } : { hardCap: true, limitUsd: LIMIT_USD } })
    : new ChatOpenAI(fields);
  await sleep(20);
  const constructMaxGapMs = gaps.max();
  if (mode === "capped-long-warm") await new ChatOpenAI(fields).invoke("warm up the HTTP client");

  const delay = monitorEventLoopDelay({ resolution: 1 });
  const profiler = process.env.BENCH_EVENT_LOOP_PROFILE ? await startProfiler() : undefined;
  await sleep(50); // let whatever the set-up left behind settle
  delay.enable();
  gaps.reset();
  const start = performance.now();
  const reply: AIMessage = await model.invoke(mode === "capped-long" || mode === "capped-long-warm" ? LONG_PROMPT : "Say hello.");
  const callMs = performance.now() - start;
  await sleep(20); // a few more ticks, so a stall at the very end is seen too
  const maxGapMs = gaps.max();
  delay.disable();
  gaps.stop();
  if (profiler) console.log(`\n${mode} (${libPath}), the longest stall (${maxGapMs.toFixed(1)} ms between ticks) in the CPU profile:\n${await profiler(gaps.window())}`);
  assert(reply.usage_metadata?.input_tokens === SCRIPTED_USAGE.promptTokens, "the call got its scripted answer");
  if (lib) assert((reply.response_metadata as { cost?: { totalUsd?: number } }).cost?.totalUsd === 0.000255, "the capped call is priced");
  let tokenizerLoaded: boolean | undefined;
  if (mode !== "plain" && libPath === "default" && LIBRARY === "src") {
    const tokenizer = await import("../src/usage/tokenizer.js");
    tokenizerLoaded = tokenizer.loadedEncoderFor(MODEL) !== undefined;
  }
  return {
    mode,
    library: libPath === "default" ? LIBRARY : libPath,
    importMs,
    importMaxGapMs,
    constructMaxGapMs,
    callMs,
    maxGapMs,
    loopDelayMaxMs: delay.max / 1e6,
    tokenizerLoaded,
  };
}

/**
 * Diagnostics (BENCH_EVENT_LOOP_PROFILE=1): a CPU profile (250 µs sampling) through the first call; returns what
 * ran during the longest gap between ticks, by self time (profile samples are stamped on the monotonic clock).
 */
async function startProfiler(): Promise<(window: [number, number]) => Promise<string>> {
  const { Session } = await import("node:inspector");
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<any>((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
  await post("Profiler.enable");
  await post("Profiler.setSamplingInterval", { interval: 250 });
  await post("Profiler.start");
  return async ([from, to]) => {
    const { profile } = (await post("Profiler.stop")) as {
      profile: { nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>; samples: number[]; timeDeltas: number[]; startTime: number };
    };
    session.disconnect();
    const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
    const self = new Map<string, number>();
    let at = profile.startTime;
    let inWindow = 0;
    for (let i = 0; i < profile.samples.length; i++) {
      at += profile.timeDeltas[i] ?? 0;
      if (at < from || at > to) continue;
      const frame = byId.get(profile.samples[i] ?? 0);
      const key = `${frame?.functionName || "(anonymous)"} ${frame?.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/\/work\/main\//, "")}`;
      const us = profile.timeDeltas[i] ?? 0;
      self.set(key, (self.get(key) ?? 0) + us);
      inWindow += us;
    }
    return [
      `${(inWindow / 1000).toFixed(1)} ms of samples in the window`,
      ...[...self].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k, us]) => `  ${(us / 1000).toFixed(1)} ms  ${k}`),
    ].join("\n");
  };
}

function firstCallInChild(mode: Mode, url: string, libPath: string): Promise<FirstCall> {
  const child = fork(fileURLToPath(import.meta.url), ["--first-call", mode, url, libPath], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    child.once("message", (m) => resolve(m as FirstCall));
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`first-call process (${mode}) exited without a result (code ${code})`)));
  });
}

const cell = (s: Stats) => `${s.median.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)})`;

section("event-loop", async () => {
  const runs = Number(process.env.BENCH_EVENT_LOOP_RUNS ?? 5);
  const baseline = process.env.BENCH_BASELINE_LIB;
  const only = process.env.BENCH_EVENT_LOOP_MODES?.split(",");
  const jobs: Array<[Mode, string]> = MODES.filter((m) => !only || only.includes(m)).map((m) => [m, "default"]);
  if (baseline) jobs.push(["capped-long", baseline], ["capped-long-warm", baseline]);
  const server = await startFakeServer({ content: REPLY_TEXT, usage: SCRIPTED_USAGE });
  const loadBefore = loadavg()[0]?.toFixed(2);
  const results: FirstCall[] = [];
  try {
    for (let r = 0; r < runs; r++) {
      for (const [mode, lib] of r % 2 === 0 ? jobs : [...jobs].reverse()) results.push(await firstCallInChild(mode, server.url, lib));
    }
  } finally {
    await server.close();
  }
  const rows = [
    `| first call in a fresh process (${runs} runs each) | library | longest gap between 1 ms ticks, ms, median (min–max) | monitorEventLoopDelay max, ms | call ms | tokenizer loaded | import ms (longest gap) | construct: longest gap, ms |`,
    "|---|---|--:|--:|--:|---|--:|--:|",
  ];
  for (const [mode, lib] of jobs) {
    const own = results.filter((r) => r.mode === mode && r.library === (lib === "default" ? LIBRARY : lib));
    const col = (pick: (r: FirstCall) => number) => cell(stats(own.map(pick)));
    const loaded = [...new Set(own.map((r) => (r.tokenizerLoaded === undefined ? "n/a" : r.tokenizerLoaded ? "yes" : "no")))].join("/");
    rows.push(
      `| ${mode} | ${mode === "plain" ? "–" : lib === "default" ? LIBRARY : lib} | ${col((r) => r.maxGapMs)} | ${col((r) => r.loopDelayMaxMs)} | ${col((r) => r.callMs)} | ${loaded} | ${mode === "plain" ? "–" : `${col((r) => r.importMs)} (${col((r) => r.importMaxGapMs)})`} | ${col((r) => r.constructMaxGapMs)} |`,
    );
    if (mode !== "plain" && lib === "default" && LIBRARY === "src") {
      const expectLoad = mode !== "capped-short";
      assert(own.every((r) => r.tokenizerLoaded === expectLoad), `${mode}: the tokenizer ${expectLoad ? "loaded" : "stayed unloaded"} in every run`);
    }
  }
  console.log(rows.join("\n"));
  console.log(`\n(1-minute load ${loadBefore} → ${loadavg()[0]?.toFixed(2)}.)\n`);
});

if (process.argv[2] === "--first-call" && process.send) {
  const [mode, url, libPath] = process.argv.slice(3);
  const result = await firstCallInThisProcess(mode as Mode, url ?? "", libPath ?? "default");
  process.send(result, () => process.exit(0));
}
