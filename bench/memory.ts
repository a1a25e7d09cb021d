/**
 * `npm run bench -- memory`: 10,000 sequential runs leave no per-run state behind. Each `model.invoke` is a
 * root run with its own per-run budget (handler, ledger, records); after the runs and a full GC, the heap
 * should be back where it started. A plain ChatOpenAI (run budget off) is measured in the same process as
 * the baseline.
 */
import v8 from "node:v8";
import vm from "node:vm";
import { ChatOpenAI } from "@langchain/openai";
import { MeteredChatModel } from "../src/index.js";
import { startFakeServer } from "./fake-server-process.js";
import { assert, section } from "./harness.js";

const RUNS = 10_000;
const LIMIT_MB = 5;

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

async function heapAfterGc(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed;
}

async function growth(invoke: () => Promise<unknown>, runs: number): Promise<number> {
  for (let i = 0; i < 200; i++) await invoke(); // warm up: caches, tokenizer, connections
  const before = await heapAfterGc();
  for (let i = 0; i < runs; i++) await invoke();
  return (await heapAfterGc()) - before;
}

section("memory", async () => {
  const server = await startFakeServer({ usage: { promptTokens: 1000, completionTokens: 200 } });
  try {
    const fields = { model: "gpt-4o-mini", apiKey: "bench", maxRetries: 0, configuration: { baseURL: server.url } };
    const metered = new MeteredChatModel(fields);
    const plain = new ChatOpenAI(fields);
    const first = await metered.invoke("hello");
    assert((first.response_metadata as { cost?: unknown }).cost, "the metered reply carries a cost");

    process.env.LANGCHAIN_METERED_RUN_BUDGET = "false";
    const plainGrowth = await growth(() => plain.invoke("hello"), RUNS);
    process.env.LANGCHAIN_METERED_RUN_BUDGET = "true";
    const meteredGrowth = await growth(() => metered.invoke("hello"), RUNS);

    const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(2);
    console.log(`\n## memory: ${RUNS.toLocaleString("en")} sequential runs, heap after a full GC\n`);
    console.log("| model | heap growth (MB) |\n| --- | --: |");
    console.log(`| plain ChatOpenAI (run budget off) | ${mb(plainGrowth)} |`);
    console.log(`| MeteredChatModel, a fresh $2 budget per run | ${mb(meteredGrowth)} |`);
    assert(meteredGrowth < LIMIT_MB * 2 ** 20, `metered runs left ${mb(meteredGrowth)} MB behind (goal < ${LIMIT_MB} MB)`);
  } finally {
    await server.close();
  }
});
