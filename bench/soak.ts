/**
 * `npm run bench -- soak`: the randomized hard-cap soak (test/faults/soak-engine.ts) at full size: ≥ 1,000 runs
 * of 1, 8 or 64 concurrent workers under a hard cap (a BudgetCallbackHandler, the model's own run budget, a
 * plain ChatOpenAI under a handler), invoke and stream, both APIs, with the fake's faults (a third of the
 * calls), callers' aborts (a tenth of the calls, a third of the runs) and `break`s. The fake keeps its own
 * bill. Reported: runs over the limit by the provider's bill (the bar: none) and the budget usable before
 * refusal (the bill of what was sent before the first refusal / the limit), next to the same runs with no
 * fault and no abort. `SOAK_RUNS` sets the runs per concurrency (default 340: 1,020 runs).
 *
 * `npm run bench -- soak-retries`: with `maxRetries` > 0, LangChain retries a failed request inside the call
 * (its AsyncCaller), here every first attempt billed in full and then reset. A MeteredChatModel meters each
 * attempt as a call of its own, so its runs hold the bar; a plain ChatOpenAI under a handler is one call to
 * LangChain, charged from its last attempt only: the known gap, measured beside them.
 *
 * `npm run bench -- soak-memory` (run it as `node --expose-gc --import tsx bench/index.ts soak-memory`):
 * 100,000 invokes and 10,000 streams through MeteredChatModel, and the same through a plain ChatOpenAI, every
 * call passed ONE long-lived caller AbortSignal (a server-wide one, never aborted). Heap after a full GC at
 * the start, the middle and the end; bytes per call; and the abort listeners left on the signal.
 */
import { getEventListeners } from "node:events";
import v8 from "node:v8";
import vm from "node:vm";
import { ChatOpenAI } from "@langchain/openai";
import { MeteredChatModel } from "../src/index.js";
import { type RunResult, soak, soakTable } from "../test/faults/soak-engine.js";
import { startFakeServer } from "./fake-server-process.js";
import { assert, section } from "./harness.js";

const SEED = 0x50a6;

/** Drops LangChain's log of every error a budget handler throws (each refusal): thousands in a soak. */
async function quietly<T>(run: () => Promise<T>): Promise<T> {
  const error = console.error;
  console.error = (...args: unknown[]) => {
    if (typeof args[0] === "string" && args[0].startsWith("Error in handler ")) return;
    error(...args);
  };
  try {
    return await run();
  } finally {
    console.error = error;
  }
}

function checkBar(results: RunResult[], label: string): void {
  const over = results.filter((r) => r.billedNano > r.limitNano);
  assert(over.length === 0, `${label}: ${over.length} runs over the limit by the provider's bill (seeds ${over.map((r) => r.seed).join(", ")})`);
  assert(results.every((r) => r.exceeded === 0), `${label}: a call took the spend over the limit`);
  assert(results.every((r) => r.heldAfterNano === 0), `${label}: holds left behind`);
  const unexpected = results.flatMap((r) => r.unexpected);
  assert(unexpected.length === 0, `${label}: undocumented errors: ${unexpected.slice(0, 3).join("; ")}`);
}

section("soak", async () => {
  const runs = Number(process.env.SOAK_RUNS ?? 340);
  let t0 = performance.now();
  const results = await quietly(() => soak({ seed: SEED, runsPerConcurrency: runs }));
  const faultySeconds = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const calm = await quietly(() => soak({ seed: SEED, runsPerConcurrency: Math.ceil(runs / 3), faults: false, aborts: false }));
  const calmSeconds = (performance.now() - t0) / 1000;

  console.log(`\n### Hard-cap soak: ${results.length} runs with faults and aborts (${faultySeconds.toFixed(0)} s)\n`);
  console.log(soakTable(results));
  console.log(`\n### The same kinds of run, no fault and no abort: ${calm.length} runs (${calmSeconds.toFixed(0)} s)\n`);
  console.log(soakTable(calm));
  console.log(
    "\nUsable before refusal: what the provider billed for the requests sent before the run's first refusal (all of " +
      "them when none was refused) / the limit, over the runs their caller did not abort. Under a hard cap a call " +
      "that fails or is cut off after it was sent is charged its whole hold, and with no max tokens set a call " +
      "holds all the room left: one fault or abort then ends the run's budget.",
  );
  checkBar(results, "soak");
  checkBar(calm, "soak without faults");
});

section("soak-retries", async () => {
  const runs = Number(process.env.SOAK_RETRY_RUNS ?? 8);
  const t0 = performance.now();
  const results = await quietly(() =>
    soak({
      seed: SEED + 1,
      runsPerConcurrency: runs,
      concurrency: [8, 64],
      maxRetries: 2,
      everyCall: "reset-mid-stream",
      mode: "invoke",
      faults: false,
      aborts: false,
    }),
  );
  console.log(
    `\n### Every call's first attempt is reset after the answer was generated (billed in full), LangChain ` +
      `retries it (maxRetries 2): ${results.length} runs, invoke (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`,
  );
  console.log(soakTable(results));
  console.log("\nA plain ChatOpenAI's retried attempts never reach its handler (the known gap): its runs go over.");
  checkBar(results.filter((r) => r.kind !== "plain"), "soak-retries (metered models)");
});

// ---------------------------------------------------------------------------------------------------------
// Memory with one long-lived caller signal
// ---------------------------------------------------------------------------------------------------------

let gcFunction: (() => void) | undefined;
function gc(): void {
  if (!gcFunction) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (exposed) gcFunction = exposed;
    else {
      v8.setFlagsFromString("--expose-gc");
      gcFunction = vm.runInNewContext("gc") as () => void;
    }
  }
  gcFunction();
}

/**
 * The heap after full GCs, each followed by a short pause: a stream's state is let go by a
 * FinalizationRegistry's cleanup task, which V8 runs some time after the GC (with only `setImmediate` between
 * GCs, 10,000 streams showed +1,715 then −1,599 bytes per stream from one half to the next: timing, not a leak).
 */
async function heapAfterGc(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return process.memoryUsage().heapUsed;
}

interface MemoryRow {
  label: string;
  calls: number;
  start: number;
  middle: number;
  end: number;
  listeners: number;
  seconds: number;
}

async function measure(label: string, calls: number, once: () => Promise<unknown>, signal: AbortSignal): Promise<MemoryRow> {
  for (let i = 0; i < 500; i++) await once(); // warm up: caches, tokenizer, connections
  const t0 = performance.now();
  const start = await heapAfterGc();
  for (let i = 0; i < calls / 2; i++) await once();
  const middle = await heapAfterGc();
  for (let i = calls / 2; i < calls; i++) await once();
  const end = await heapAfterGc();
  return { label, calls, start, middle, end, listeners: getEventListeners(signal, "abort").length, seconds: (performance.now() - t0) / 1000 };
}

section("soak-memory", async () => {
  const invokes = Number(process.env.SOAK_MEMORY_INVOKES ?? 100_000);
  const streams = Number(process.env.SOAK_MEMORY_STREAMS ?? 10_000);
  const server = await startFakeServer({ content: "Hello from the fake server, in eight chunks.", usage: { promptTokens: 1000, completionTokens: 200 } });
  // One signal for the whole server's life, passed to every call and never aborted.
  const serverWide = new AbortController();
  const signal = serverWide.signal;
  const rows: MemoryRow[] = [];
  try {
    const fields = { model: "gpt-4o-mini", apiKey: "bench", maxRetries: 0, configuration: { baseURL: server.url } };
    const metered = new MeteredChatModel({ ...fields, provider: "openai" });
    const plain = new ChatOpenAI(fields);
    const first = await metered.invoke("Say hello.", { signal });
    assert((first.response_metadata as { cost?: { nanoUsd?: number } }).cost?.nanoUsd === 270_000, "the metered reply carries its cost (1000 × 150 + 200 × 600)");
    const drain = async (model: ChatOpenAI) => {
      let chunks = 0;
      for await (const _ of await model.stream("Say hello.", { signal })) chunks++;
      return chunks;
    };
    assert((await drain(metered)) > 5, "a stream has chunks");

    rows.push(await measure("plain ChatOpenAI, invoke", invokes, () => plain.invoke("Say hello.", { signal }), signal));
    rows.push(await measure("MeteredChatModel, invoke", invokes, () => metered.invoke("Say hello.", { signal }), signal));
    rows.push(await measure("plain ChatOpenAI, stream", streams, () => drain(plain), signal));
    rows.push(await measure("MeteredChatModel, stream", streams, () => drain(metered), signal));
  } finally {
    await server.close();
  }
  const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(2);
  console.log(`\n### Memory: one long-lived caller AbortSignal passed to every call (heap after a full GC)\n`);
  console.log("| calls | n | heap at start (MB) | middle (MB) | end (MB) | growth start→end (MB) | bytes per call (whole run) | bytes per call (second half) | abort listeners left on the signal | wall s |");
  console.log("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
  const perCall = (r: MemoryRow) => (r.end - r.start) / r.calls;
  for (const r of rows) {
    console.log(
      `| ${r.label} | ${r.calls.toLocaleString("en-US")} | ${mb(r.start)} | ${mb(r.middle)} | ${mb(r.end)} | ${mb(r.end - r.start)} | ${perCall(r).toFixed(1)} | ${((r.end - r.middle) / (r.calls / 2)).toFixed(1)} | ${r.listeners} | ${r.seconds.toFixed(0)} |`,
    );
  }
  console.log(
    "\nOn Node 20 a plain ChatOpenAI itself keeps ~55 bytes per call reachable from a long-lived caller signal (the " +
      "OpenAI SDK and LangChain compose it with `AbortSignal.any`, nodejs/node#55351); without a signal it leaves ~25–30.",
  );
  for (const r of rows) assert(r.listeners === 0, `${r.label}: ${r.listeners} abort listeners left on the long-lived signal`);
  const [plainInvoke, meteredInvoke, plainStream, meteredStream] = rows as [MemoryRow, MemoryRow, MemoryRow, MemoryRow];
  assert(perCall(meteredInvoke) - perCall(plainInvoke) < 50, "MeteredChatModel invokes leave < 50 bytes per call more than ChatOpenAI's");
  assert(perCall(meteredStream) - perCall(plainStream) < 200, "MeteredChatModel streams leave < 200 bytes per call more than ChatOpenAI's");
});
