/**
 * Loads the o200k_base tokenizer once in a fresh child process and reports how long it took and how long the
 * event loop was blocked meanwhile: nothing is cached, as in a server's first estimate.
 *
 * As a child (`node --import tsx bench/tokenizer-load-process.ts --tokenizer-load <way>`) it measures one load
 * and sends a `LoadMeasurement` over IPC. As a module it exports `measureLoad` (bench/tokenizer.ts) and has no
 * other effect, since bench/index.ts imports every bench file.
 *
 * Ways: `import` (only `import("js-tiktoken/ranks/o200k_base")`), `one-shot` (that import, then
 * `new Tiktoken(ranks)`), `sliced` (our `encoderFor("gpt-4o")`, which imports the ranks itself). js-tiktoken/lite
 * and our module are imported before the clock starts, so only the load is measured.
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";

export type LoadWay = "import" | "one-shot" | "sliced";

export interface LoadMeasurement {
  /** From the start of the load to a ready encoder, ms. */
  totalMs: number;
  /** The longest time between two ticks of a 1 ms setInterval during the load, ms (the tick period included). */
  maxGapMs: number;
  /** perf_hooks.monitorEventLoopDelay's max during the load (1 ms resolution), ms. */
  loopDelayMaxMs: number;
  /** Why the sliced load fell back to the blocking constructor, if it did (the measurement then is not ours). */
  fallbackReason?: string;
  /** The encoder's ids for CHECK_TEXT (empty for `import`). */
  ids: number[];
}

/** A text and its o200k_base ids (js-tiktoken's one-shot encoder), to check the encoder a child built. */
export const CHECK_TEXT = "Hello, world! 12345 日本語 🙂";
export const CHECK_IDS = [13225, 11, 2375, 0, 220, 7633, 2548, 17428, 40909, 26192];

/** Runs one load in a fresh child process. */
export function measureLoad(way: LoadWay): Promise<LoadMeasurement> {
  const child = fork(fileURLToPath(import.meta.url), ["--tokenizer-load", way], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    child.once("message", (m) => resolve(m as LoadMeasurement));
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`tokenizer load process (${way}) exited without a result (code ${code})`)));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function measureInThisProcess(way: LoadWay): Promise<LoadMeasurement> {
  const { monitorEventLoopDelay } = await import("node:perf_hooks");
  const { Tiktoken } = await import("js-tiktoken/lite");
  const tokenizer = await import("../src/usage/tokenizer.js");

  // The gap monitor: a 1 ms interval that remembers the longest time between two of its ticks.
  let lastTick = performance.now();
  let maxGapMs = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - lastTick);
    lastTick = now;
  }, 1);
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  await sleep(50); // let start-up work settle before measuring
  loopDelay.enable();
  lastTick = performance.now();
  maxGapMs = 0;

  const start = performance.now();
  let ids: number[] = [];
  if (way === "import") {
    await import("js-tiktoken/ranks/o200k_base");
  } else if (way === "one-shot") {
    const ranks = (await import("js-tiktoken/ranks/o200k_base")).default;
    ids = new Tiktoken(ranks).encode(CHECK_TEXT);
  } else {
    ids = (await tokenizer.encoderFor("gpt-4o")).encode(CHECK_TEXT);
  }
  const totalMs = performance.now() - start;
  await sleep(20); // a few more ticks, so a stall at the very end is seen too
  loopDelay.disable();
  clearInterval(ticker);

  const fallbackReason = tokenizer.tokenizerFallbackReason();
  return { totalMs, maxGapMs, loopDelayMaxMs: loopDelay.max / 1e6, ids, ...(fallbackReason ? { fallbackReason } : {}) };
}

if (process.argv[2] === "--tokenizer-load" && process.send) {
  const way = process.argv[3] as LoadWay;
  const result = await measureInThisProcess(way);
  process.send(result, () => process.exit(0));
}
