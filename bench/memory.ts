/**
 * `npm run bench -- memory`: sequential runs leave no per-run state behind. Each `invoke` (or `stream`) is a root
 * run with a budget of its own, each agent run a run scope with one budget shared by its two model calls; after
 * the runs and a full GC the heap should be back where it started. A plain ChatOpenAI (and a plain agent) is
 * measured in the same process as the baseline; the loopback server runs in a child process. Every case first
 * runs 1,000 times unmeasured, so the process's one-time growth (compiled code, caches, the HTTP pool) is not
 * charged to whichever case happens to run first.
 */
import { ChatOpenAI } from "@langchain/openai";
import { startFakeServer } from "./fake-server-process.js";
import { assert, section } from "./harness.js";
import { AGENT_TOOL_CALL, makeAgent, runAgent } from "./agent.js";
import { AS_OPENAI, drain, fullGc, loadLibrary, MODEL, PROMPT, REPLY_TEXT, SCRIPTED_USAGE } from "./metering.js";

const RUNS = Number(process.env.BENCH_MEMORY_RUNS ?? 10_000);
const AGENT_RUNS = Math.round(RUNS / 5);
const LIMIT_MB = 5;

/**
 * The heap after full GCs, 50 ms apart: a completed metered stream's generator stays registered in a
 * FinalizationRegistry (src/model/metered-stream.ts `droppedStreams`), whose cell is freed only once its cleanup task
 * has run after a GC; a `setImmediate` between GCs can come before that task and count cells about to go.
 */
async function heapAfterGc(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    fullGc();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return process.memoryUsage().heapUsed;
}

async function growth(run: () => Promise<unknown>, runs: number): Promise<number> {
  for (let i = 0; i < 200; i++) await run(); // warm up: caches, tokenizer, connections
  const before = await heapAfterGc();
  for (let i = 0; i < runs; i++) await run();
  return (await heapAfterGc()) - before;
}

section("memory", async () => {
  const lib = await loadLibrary();
  const server = await startFakeServer({ content: REPLY_TEXT, usage: SCRIPTED_USAGE }, { toolRound: AGENT_TOOL_CALL });
  const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(2);
  const rows: string[] = [];
  try {
    const fields = { model: MODEL, apiKey: "bench", maxRetries: 0, configuration: { baseURL: server.url } };
    const metered = new lib.MeteredChatModel({ ...fields, ...AS_OPENAI });
    const capped = new lib.MeteredChatModel({ ...fields, ...AS_OPENAI, budget: { hardCap: true } });
    const plain = new ChatOpenAI(fields);
    const first = await metered.invoke(PROMPT);
    assert((first.response_metadata as { cost?: unknown }).cost, "the metered reply carries a cost");
    const plainAgent = makeAgent(plain);
    const meteredAgent = makeAgent(metered);
    const checkedRun = (agent: ReturnType<typeof makeAgent>, isMetered: boolean) => async () => {
      const messages = await runAgent(agent);
      if (isMetered) assert(messages.every((m) => m.getType() !== "ai" || (m.response_metadata as { cost?: unknown }).cost), "every agent answer carries a cost");
    };

    const cases: Array<[string, () => Promise<unknown>, number]> = [
      ["plain ChatOpenAI, invoke", () => plain.invoke(PROMPT), RUNS],
      ["MeteredChatModel, invoke (a fresh $2 budget per call)", () => metered.invoke(PROMPT), RUNS],
      ["MeteredChatModel hardCap, invoke", () => capped.invoke(PROMPT), RUNS],
      ["plain ChatOpenAI, 20-chunk stream", () => drain(plain), RUNS],
      ["MeteredChatModel, 20-chunk stream", () => drain(metered), RUNS],
      ["plain createAgent run (2 model calls + 1 tool)", checkedRun(plainAgent, false), AGENT_RUNS],
      ["metered createAgent run (one run budget per run)", checkedRun(meteredAgent, true), AGENT_RUNS],
    ];
    for (const [, run, runs] of cases) for (let i = 0; i < Math.min(1_000, runs); i++) await run();
    for (const [label, run, runs] of cases) {
      const grown = await growth(run, runs);
      rows.push(`| ${label} | ${runs.toLocaleString("en-US")} | ${mb(grown)} |`);
      if (!label.startsWith("plain")) assert(grown < LIMIT_MB * 2 ** 20, `${label}: ${mb(grown)} MB left behind (goal < ${LIMIT_MB} MB)`);
    }
  } finally {
    await server.close();
    console.log("| runs | sequential runs | heap growth after a full GC (MB) |\n| --- | --: | --: |");
    console.log(rows.join("\n"));
  }
});
