/**
 * LangSmith tracing overhead (`npm run bench -- langsmith`): `MeteredChatModel` against plain `ChatOpenAI`, both
 * traced by LangChain's `LangChainTracer` with the real `langsmith` Client. The difference is what metering costs
 * with tracing on: pricing, the budget, and the cost carried into the run (goal: ≤ +30 µs CPU per call), beside
 * the same pair untraced. Run it on a build: `npm run build && BENCH_LIB=dist npm run bench -- langsmith`, on
 * Node 22, the runtime this package and `@langchain/openai` require (on a machine with Node 20:
 * `BENCH_LIB=dist npx -y node@22 node_modules/.bin/tsx bench/index.ts langsmith`). Each variant is checked first:
 * the metered run reaches a loopback sink with `total_cost`, the plain one without.
 *
 * Traced calls await their callbacks in line (`LANGCHAIN_CALLBACKS_BACKGROUND=false`), so a call's run is handed
 * to the Client inside the call. Not `awaitAllCallbacks()` after each call: langsmith's part of it sleeps 1 ms,
 * and a call that starts after a pause runs on cold caches, every call two to three times slower, plain included.
 *
 * Two measures. Call by call (`pairedPerCall`), the one to read: canned OpenAI responses (no socket), a Client
 * without batching (each run serialized and sent inside its own call), a warm-up to the steady state of a
 * long-running process (`BENCH_WARMUP` rounds, default 10,000), both models in a random order within each pair,
 * the median of the per-pair differences with a bootstrap interval; back to back, and with a 1 ms pause before
 * each call. Blocks over loopback: the fake OpenAI and a LangSmith sink in child processes (only the
 * client's CPU is counted), a batching Client whose posts go out in whichever block they fall; too coarse for
 * tens of µs, kept as the end-to-end check.
 */
import { fork } from "node:child_process";
import { createServer } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { awaitAllCallbacks } from "@langchain/core/callbacks/promises";
import type { AIMessage } from "@langchain/core/messages";
import { LangChainTracer } from "@langchain/core/tracers/tracer_langchain";
import { ChatOpenAI } from "@langchain/openai";
import { Client } from "langsmith";
import { listenOnLoopback, readBody } from "../test/support/loopback.js";
import { startFakeServer } from "./fake-server-process.js";
import { assert, compare, section, stats, type Case } from "./harness.js";
import { cannedFetch } from "./metering-breakdown.js";
import { AS_OPENAI, checkUsage, LIBRARY, loadLibrary, MODEL, PROMPT, SCRIPTED_USAGE } from "./metering.js";

interface Sink {
  url: string;
  /** How many posted bodies mention `total_cost` since the last call, and how many were posted. */
  seen(): Promise<{ bodies: number; withCost: number }>;
  close(): Promise<void>;
}

/** The child: answers LangSmith's `/info` (multipart, uncompressed) and accepts every post. */
async function serveSink(): Promise<void> {
  let bodies = 0;
  let withCost = 0;
  const server = createServer(async (req, res) => {
    if (req.method === "GET" && req.url === "/info") {
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
      return;
    }
    const body = await readBody(req);
    bodies++;
    if (body.includes('"total_cost"')) withCost++;
    res.writeHead(202, { "content-type": "application/json" }).end("{}");
  });
  const { url } = await listenOnLoopback(server);
  process.on("message", (message: { id: number }) => {
    process.send?.({ id: message.id, bodies, withCost });
    bodies = 0;
    withCost = 0;
  });
  process.on("disconnect", () => process.exit(0));
  process.send?.({ url });
}

async function startSink(): Promise<Sink> {
  const child = fork(fileURLToPath(import.meta.url), ["--serve-langsmith-sink"], { execArgv: ["--import", "tsx"], stdio: "inherit" });
  const url = await new Promise<string>((resolve) => child.once("message", (m: { url: string }) => resolve(m.url)));
  let next = 0;
  return {
    url,
    seen: () =>
      new Promise((resolve) => {
        const id = ++next;
        const onMessage = (m: { id: number; bodies: number; withCost: number }) => {
          if (m.id !== id) return;
          child.off("message", onMessage);
          resolve({ bodies: m.bodies, withCost: m.withCost });
        };
        child.on("message", onMessage);
        child.send({ id });
      }),
    close: async () => void child.kill(),
  };
}

/** A langsmith Client that posts nowhere, one run at a time: its fetch reads each body (so it is built in full). */
function clientWithoutNetwork(): Client {
  const accept: typeof fetch = async (url, init) => {
    if (init?.body) await new Response(init.body as BodyInit).arrayBuffer();
    return new Response("{}", { status: String(url).endsWith("/info") ? 200 : 202, headers: { "content-type": "application/json" } });
  };
  return new Client({ apiUrl: "http://langsmith.invalid", apiKey: "bench", fetchImplementation: accept, autoBatchTracing: false });
}

/** Process CPU, µs. (`process.threadCpuUsage`, Node 22, counts in whole scheduler ticks on this VM: no use per call.) */
function cpuUs(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** Traced calls send their run inside the call: LangChain's documented switch for awaiting callbacks in line. */
function callbacksInLine<T>(run: () => Promise<T>): Promise<T> {
  const before = process.env.LANGCHAIN_CALLBACKS_BACKGROUND;
  process.env.LANGCHAIN_CALLBACKS_BACKGROUND = "false";
  return run().finally(() => {
    if (before === undefined) delete process.env.LANGCHAIN_CALLBACKS_BACKGROUND;
    else process.env.LANGCHAIN_CALLBACKS_BACKGROUND = before;
  });
}

/**
 * CPU per call, call by call: ChatOpenAI and MeteredChatModel in pairs (random order), canned responses, and
 * (traced) each run sent inside its call (callbacks awaited in line, a Client without batching). Not by
 * `awaitAllCallbacks()`: langsmith's part of it sleeps 1 ms, and a call that starts after a pause runs on cold
 * caches, every call in the process two to three times slower, plain included. Both regimes are measured:
 * back to back, and after a 1 ms pause before each call (closer to a real call, which waits on the network).
 * The median of the per-pair differences, with a bootstrap 95% interval of that median over the pairs
 * (within this process: another process's JIT and heap move it by several µs; see BENCHMARKS.md).
 *
 * First the process is brought to the steady state of a long-running server: `rounds` rounds of both models,
 * traced and not. Code that runs once per call (ours, LangChain's, langsmith's) is optimized by V8 only after
 * thousands of calls: after 500 pairs a traced call costs about twice what it costs after 5,000, and metering's
 * difference with it four times, by how far each process got (BENCHMARKS.md has the curve).
 */
async function pairedPerCall(pairs = Number(process.env.BENCH_PAIRS ?? 2000), rounds = Number(process.env.BENCH_WARMUP ?? 10_000), warmup = 500): Promise<string> {
  const lib = await loadLibrary();
  const fields = { model: MODEL, apiKey: "test", maxRetries: 0, configuration: { baseURL: "http://canned.invalid/v1", fetch: await cannedFetch() } };
  const models: ChatOpenAI[] = [new ChatOpenAI(fields), new lib.MeteredChatModel({ ...fields, ...AS_OPENAI })];
  const client = clientWithoutNetwork();
  const tracer = new LangChainTracer({ client, projectName: "bench" });
  const median = (values: number[]) => stats(values).median;
  await callbacksInLine(async () => {
    for (let i = 0; i < rounds; i++) for (const model of models) for (const options of [{}, { callbacks: [tracer] }]) checkUsage(await model.invoke(PROMPT, options));
  });
  const rows = [
    "| calls | pause before each call | pairs | ChatOpenAI µs/call (median) | MeteredChatModel µs/call (median) | CPU Δ µs/call, median of pairs [95% interval] | Δ / ChatOpenAI | p25 / p75 of the pair differences |",
    "|---|---|--:|--:|--:|--:|--:|---|",
  ];
  // Traced first, straight after the warm-up: a row after the 1 ms pauses starts from a cooler process.
  for (const traced of [true, false]) {
    for (const pauseMs of [0, 1]) {
      const one = async (model: ChatOpenAI) => {
        if (pauseMs) await sleep(pauseMs);
        const start = cpuUs();
        checkUsage(await model.invoke(PROMPT, traced ? { callbacks: [tracer] } : {}));
        return cpuUs() - start;
      };
      const measure = async () => {
        for (let i = 0; i < warmup; i++) for (const model of models) await one(model);
        const plainUs: number[] = [];
        const meteredUs: number[] = [];
        for (let i = 0; i < pairs; i++) {
          const order = Math.random() < 0.5 ? [0, 1] : [1, 0];
          const taken: number[] = [];
          for (const k of order) taken[k] = await one(models[k] as ChatOpenAI);
          plainUs.push(taken[0] ?? NaN);
          meteredUs.push(taken[1] ?? NaN);
        }
        return { plainUs, meteredUs };
      };
      const { plainUs, meteredUs } = traced ? await callbacksInLine(measure) : await measure();
      const deltas = meteredUs.map((us, i) => us - (plainUs[i] ?? NaN));
      const boot = Array.from({ length: 300 }, () => median(Array.from({ length: deltas.length }, () => deltas[Math.floor(Math.random() * deltas.length)] ?? NaN))).sort((a, b) => a - b);
      const sorted = [...deltas].sort((a, b) => a - b);
      const at = (values: number[], q: number) => values[Math.floor(q * (values.length - 1))] ?? NaN;
      rows.push(
        `| ${traced ? "invoke with LangSmith tracing (LangChainTracer, langsmith Client, no batching, callbacks in line)" : "invoke, not traced"} | ${pauseMs ? `${pauseMs} ms` : "none (back to back)"} | ${pairs} | ${median(plainUs).toFixed(0)} | ${median(meteredUs).toFixed(0)} | **${signed(median(deltas))}** [${signed(at(boot, 0.025))} to ${signed(at(boot, 0.975))}] | ${signed((100 * median(deltas)) / median(plainUs))} % | ${signed(at(sorted, 0.25))} / ${signed(at(sorted, 0.75))} |`,
      );
    }
  }
  const below = Number(process.versions.node.split(".")[0]) < 22 ? ` (below this package's Node ≥ 22: see this file's header to run it on 22)` : "";
  return `**Call by call** (canned responses, process CPU, ${pairs} pairs after ${rounds} warm-up rounds of both models traced and not, then ${warmup} warm-up pairs per row, Node ${process.version}${below}):\n\n${rows.join("\n")}\n`;
}

const signed = (us: number) => `${us >= 0 ? "+" : ""}${us.toFixed(1)}`;

if (process.argv.includes("--serve-langsmith-sink")) await serveSink();
else
  section("langsmith", async () => {
    const server = await startFakeServer({ usage: SCRIPTED_USAGE });
    const sink = await startSink();
    const client = new Client({ apiUrl: sink.url, apiKey: "bench" });
    const tracer = new LangChainTracer({ client, projectName: "bench" });
    const fields = { model: MODEL, apiKey: "test", maxRetries: 0, configuration: { baseURL: server.url } };
    const plain = new ChatOpenAI(fields);
    // A build (BENCH_LIB=dist) is what an app runs; src/ through tsx carries tsx's wrappers (see BENCHMARKS.md).
    const { MeteredChatModel } = await loadLibrary();
    const metered: ChatOpenAI = new MeteredChatModel(fields);
    console.log(`library: ${LIBRARY}`);
    const traced = (label: string, model: ChatOpenAI): Case<AIMessage> => ({
      label,
      op: () => model.invoke(PROMPT, { callbacks: [tracer] }),
      check: checkUsage,
    });
    try {
      for (const [model, costed] of [[plain, 0], [metered, 1]] as const) {
        await sink.seen();
        await model.invoke(PROMPT, { callbacks: [tracer] });
        await awaitAllCallbacks();
        await client.flush();
        await client.awaitPendingTraceBatches();
        const { withCost } = await sink.seen();
        assert(withCost === costed, `${model.constructor.name}: ${costed} posted run(s) with total_cost, got ${withCost}`);
      }
      const plan = { blockSize: 50, blocks: 20 };
      // The same pair without tracing, in the same process: what tracing itself adds to the difference.
      const bare = (label: string, model: ChatOpenAI): Case<AIMessage> => ({ label, op: () => model.invoke(PROMPT), check: checkUsage });
      await compare("invoke, not traced (same process, before any traced call is measured)", bare("ChatOpenAI", plain), bare("MeteredChatModel", metered), plan);
      // Callbacks in line and no drain per op (awaitAllCallbacks sleeps 1 ms in langsmith: every op would start
      // cold). The Client batches: its posts go out in the background, in whichever block they fall.
      await callbacksInLine(() =>
        compare("invoke with LangSmith tracing (LangChainTracer, real langsmith Client)", traced("ChatOpenAI, traced", plain), traced("MeteredChatModel, traced", metered), plan),
      );
      await compare("invoke, not traced (same process, after)", bare("ChatOpenAI", plain), bare("MeteredChatModel", metered), plan);
      // The batching Client's last posts go out now, not in the middle of the call-by-call measure.
      await client.flush();
      await client.awaitPendingTraceBatches();
      console.log(await pairedPerCall());
    } finally {
      await client.flush().catch(() => {});
      await Promise.all([sink.close(), server.close()]);
    }
  });
