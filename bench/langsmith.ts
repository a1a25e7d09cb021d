/**
 * LangSmith tracing overhead (`npm run bench -- langsmith`): `MeteredChatModel` against plain `ChatOpenAI`, both
 * traced by LangChain's `LangChainTracer` with the real `langsmith` Client, which posts (multipart, batched) to
 * a loopback sink in a child process (only the client's CPU is counted); the model is the fake OpenAI in
 * another. One `invoke`, then LangChain's background callback queue drained, per op; interleaved block by block.
 * The difference is what metering costs with tracing on: pricing, the budget, and the cost fields added to the
 * run (goal: ≤ +30 µs CPU per call), beside the same pair untraced. Run it on a build: `npm run build &&
 * BENCH_LIB=dist npm run bench -- langsmith`. Each variant is checked first: the metered run reaches the sink with
 * `total_cost`, the plain one without.
 *
 * Block timings of a traced call swing by half from block to block (the tracer's own work is ~1–2 ms per call),
 * too much to resolve tens of µs. So the same pair is also measured call by call (`pairedPerCall`): canned
 * OpenAI responses (no socket), each run posted by a langsmith Client without batching (each run serialized
 * and sent inside its own call), both models in a random order within each pair, the median of the per-pair
 * differences with a bootstrap interval, untraced and traced.
 */
import { fork } from "node:child_process";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
import { awaitAllCallbacks } from "@langchain/core/callbacks/promises";
import type { AIMessage } from "@langchain/core/messages";
import { LangChainTracer } from "@langchain/core/tracers/tracer_langchain";
import { ChatOpenAI } from "@langchain/openai";
import { Client } from "langsmith";
import { listenOnLoopback, readBody } from "../test/support/loopback.js";
import { startFakeServer } from "./fake-server-process.js";
import { assert, compare, section, type Case } from "./harness.js";
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

/** A langsmith Client that posts nowhere: its fetch reads each body (so it is built in full) and accepts it. */
function clientWithoutNetwork(autoBatchTracing: boolean): Client {
  const accept: typeof fetch = async (url, init) => {
    if (init?.body) await new Response(init.body as BodyInit).arrayBuffer();
    return new Response("{}", { status: String(url).endsWith("/info") ? 200 : 202, headers: { "content-type": "application/json" } });
  };
  return new Client({ apiUrl: "http://langsmith.invalid", apiKey: "bench", fetchImplementation: accept, autoBatchTracing });
}

/**
 * CPU per call, call by call: ChatOpenAI and MeteredChatModel in pairs (random order), canned responses, and
 * (traced) each run sent before its call's clock stops. The median of the per-pair differences, with a
 * bootstrap 95% interval of that median over the pairs (within this process: another process's JIT and
 * heap move it by more; run it again before trusting a few µs).
 */
async function pairedPerCall(pairs = Number(process.env.BENCH_PAIRS ?? 1500), warmup = 500): Promise<string> {
  const lib = await loadLibrary();
  const fields = { model: MODEL, apiKey: "test", maxRetries: 0, configuration: { baseURL: "http://canned.invalid/v1", fetch: await cannedFetch() } };
  const models: ChatOpenAI[] = [new ChatOpenAI(fields), new lib.MeteredChatModel({ ...fields, ...AS_OPENAI })];
  const client = clientWithoutNetwork(false);
  const tracer = new LangChainTracer({ client, projectName: "bench" });
  const cpuUs = () => {
    const { user, system } = process.cpuUsage();
    return user + system;
  };
  const rows = ["| calls | pairs | ChatOpenAI µs/call (median) | MeteredChatModel µs/call (median) | CPU Δ µs/call, median of pairs [95% interval] | p25 / p75 of the pair differences |", "|---|--:|--:|--:|--:|---|"];
  for (const traced of [false, true]) {
    const one = async (model: ChatOpenAI) => {
      const start = cpuUs();
      checkUsage(await model.invoke(PROMPT, traced ? { callbacks: [tracer] } : {}));
      if (traced) await awaitAllCallbacks();
      return cpuUs() - start;
    };
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
    const deltas = meteredUs.map((us, i) => us - (plainUs[i] ?? NaN));
    const boot = Array.from({ length: 300 }, () => median(Array.from({ length: deltas.length }, () => deltas[Math.floor(Math.random() * deltas.length)] ?? NaN))).sort((a, b) => a - b);
    const sorted = [...deltas].sort((a, b) => a - b);
    const at = (values: number[], q: number) => values[Math.floor(q * (values.length - 1))] ?? NaN;
    rows.push(
      `| ${traced ? "invoke with LangSmith tracing (LangChainTracer, langsmith Client, no batching)" : "invoke, not traced"} | ${pairs} | ${median(plainUs).toFixed(0)} | ${median(meteredUs).toFixed(0)} | **${signed(median(deltas))}** [${signed(at(boot, 0.025))} to ${signed(at(boot, 0.975))}] | ${signed(at(sorted, 0.25))} / ${signed(at(sorted, 0.75))} |`,
    );
  }
  return `**Call by call** (canned responses, CPU per call, ${pairs} pairs after ${warmup} warm-up pairs):\n\n${rows.join("\n")}\n`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
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
      op: async () => {
        const message = await model.invoke(PROMPT, { callbacks: [tracer] });
        await awaitAllCallbacks();
        return message;
      },
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
      await compare("invoke with LangSmith tracing (LangChainTracer, real langsmith Client)", traced("ChatOpenAI, traced", plain), traced("MeteredChatModel, traced", metered), plan);
      await compare("invoke, not traced (same process, after)", bare("ChatOpenAI", plain), bare("MeteredChatModel", metered), plan);
      console.log(await pairedPerCall());
    } finally {
      await client.flush().catch(() => {});
      await Promise.all([sink.close(), server.close()]);
    }
  });
