/**
 * Loading the o200k_base tokenizer (`npm run bench -- tokenizer`): js-tiktoken's one-shot `new Tiktoken(ranks)`
 * against our sliced `encoderFor` (src/usage/tokenizer.ts), each in fresh child processes
 * (bench/tokenizer-load-process.ts), so every run loads from nothing. For each: the load's total time and the
 * longest event-loop stall during it, seen two ways (the longest gap between ticks of a 1 ms setInterval, and
 * perf_hooks.monitorEventLoopDelay's max). The ranks module's import alone is measured too: it is a synchronous
 * module evaluation that no slicing can split. Runs alternate between the ways, so drift hits all alike.
 */
import { cpus, loadavg } from "node:os";
import { assert, section, stats, type Stats } from "./harness.js";
import { CHECK_IDS, type LoadMeasurement, type LoadWay, measureLoad } from "./tokenizer-load-process.js";

const RUNS = 5;
const WAYS: Array<[LoadWay, string]> = [
  ["import", '`import("js-tiktoken/ranks/o200k_base")` alone (2.3 MB module)'],
  ["one-shot", "one-shot: that import + `new Tiktoken(ranks)`"],
  ["sliced", '`encoderFor("gpt-4o")` (import + sliced fill + first encode)'],
];

const cell = (s: Stats) => `${s.median.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)})`;

section("tokenizer", async () => {
  const runs = new Map<LoadWay, LoadMeasurement[]>(WAYS.map(([way]) => [way, []]));
  for (let i = 0; i < RUNS; i++) {
    for (const [way] of WAYS) {
      const run = await measureLoad(way);
      if (way !== "import") {
        assert(run.fallbackReason === undefined, `${way} load fell back to the blocking constructor: ${run.fallbackReason}`);
        assert(run.ids.join() === CHECK_IDS.join(), `${way} encoder gives [${run.ids.join()}], not [${CHECK_IDS.join()}]`);
      }
      runs.get(way)?.push(run);
    }
  }
  const table = [
    `| o200k_base, fresh process (${RUNS} runs each) | load ms, median (min–max) | longest gap between 1 ms ticks, ms | monitorEventLoopDelay max, ms |`,
    "| --- | --: | --: | --: |",
    ...WAYS.map(([way, label]) => {
      const measured = runs.get(way) ?? [];
      const column = (pick: (m: LoadMeasurement) => number) => cell(stats(measured.map(pick)));
      return `| ${label} | ${column((m) => m.totalMs)} | ${column((m) => m.maxGapMs)} | ${column((m) => m.loopDelayMaxMs)} |`;
    }),
  ].join("\n");
  console.log(table);
  console.log(`\nNode ${process.version}, ${cpus().length}× ${cpus()[0]?.model ?? "CPU"}, 1-minute load ${loadavg()[0]?.toFixed(2)}.`);
});
