/**
 * A fleet of worker processes for the Redis suites: each worker (test/integrations/fleet-worker.ts, forked with
 * `node --import tsx`) spends against shared quotas in Redis or a Redis Cluster, through MeteredChatModel under
 * a hard cap, against one loopback fake OpenAI, and logs every priced call to its own JSONL file.
 *
 * The fake (`serveFleet`) serves exactly what it was allowed: 1000 prompt tokens (the prompt counts 1008
 * locally, so the hold covers it) and min(500, max_tokens) completion tokens (min(99,750, max_tokens) when more
 * than 500 are allowed). A full call costs 1000 × 150 + 500 × 600 = 450,000 nano-USD; its hold is 1141 × 150 +
 * 500 × 600 = 471,150 (input + 10 % + 32). Prompts starting with "SLOW" are answered after 10 s.
 */
import { type ChildProcess, fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { WorkerConfig, WorkerReport } from "../integrations/fleet-worker.js";
import type { FakeOpenAI } from "./openai-server.js";

const WORKER = fileURLToPath(new URL("../integrations/fleet-worker.ts", import.meta.url));
export const API_KEY = "sk-fleet-SECRET-never-logged";
export const PROMPT = "hello ".repeat(1000); // 1008 tokens counted locally
export const FULL_CALL_NANO = 450_000;
export const FULL_RESERVATION_NANO = 471_150;
/** A "big" call's answer (when more than 500 tokens are allowed): 1000 × 150 + 99,750 × 600 = $0.06. */
export const BIG_ANSWER_TOKENS = 99_750;
/** The max tokens of the "big" calls: a worst case of 1141 × 150 + 816,000 × 600 = $0.48977115. */
export const BIG_MAX_TOKENS = 816_000;
export const BIG_HOLD_NANO = 489_771_150;
/** The least a PROMPT call can be sent with: its input and 16 tokens of answer (a quota with less left refuses it). */
export const MIN_CALL_NANO = 1141 * 150 + 16 * 600;

/** Clears the fake's recorded requests; it then serves as a real server would (see the module's comment). */
export function serveFleet(server: FakeOpenAI): void {
  server.reset();
  server.setDefault((request) => {
    const prompt = String(request.body.messages?.[0]?.content ?? "");
    const maxTokens = Number(request.body.max_tokens ?? request.body.max_completion_tokens ?? 500);
    return {
      // Input as the prompt counts (1008 tokens locally for PROMPT; a short prompt counts 8). Never more
      // output than max_tokens, as a real server.
      usage: { promptTokens: prompt === PROMPT ? 1000 : 5, completionTokens: Math.min(maxTokens > 500 ? BIG_ANSWER_TOKENS : 500, maxTokens) },
      content: "ok",
      chunkDelayMs: prompt.startsWith("SLOW") ? 10_000 : 2,
    };
  });
}

export interface Worker {
  name: string;
  logPath: string;
  child: ChildProcess;
  ready: Promise<void>;
  done: Promise<WorkerReport>;
  exited: Promise<number | null>;
  stderr: () => string;
}

/** A worker's settings, less what the fleet fills in (where Redis and the fake are, the log's path). */
export type WorkerSettings = Omit<WorkerConfig, "redisUrl" | "clusterNodes" | "openaiUrl" | "apiKey" | "logPath">;

/**
 * The steady fleet both Redis fleet suites run: four workers (a metered model, a budget handler, alternately),
 * three calls in flight each, 40 calls or 25 refusals, a full prompt, holds waited for up to 20 s; `each(i)`
 * adds worker i's own settings (its tenant, its user).
 */
export function steadyFleet(each: (i: number) => Pick<WorkerSettings, "tenant" | "quotaUsd"> & Partial<WorkerSettings>): WorkerSettings[] {
  return (["model", "handler", "model", "handler"] as const).map((mode, i) => ({
    name: `w${i}`,
    mode,
    lanes: 3,
    maxCalls: 40,
    maxRefusals: 25,
    prompt: PROMPT,
    holdWaitMs: 20_000,
    ...each(i),
  }));
}

/** Starts workers against `server` and the Redis `where()` says (read at each start: a restarted server's URL). */
export function fleet(server: FakeOpenAI, where: () => Pick<WorkerConfig, "redisUrl" | "clusterNodes">) {
  const dir = mkdtempSync(join(tmpdir(), "lcm-fleet-"));
  const children = new Set<ChildProcess>();

  function startWorker(config: WorkerSettings): Worker {
    const logPath = join(dir, `${config.tenant}-${config.name}.jsonl`);
    const child = fork(WORKER, [JSON.stringify({ ...config, ...where(), logPath, openaiUrl: server.url, apiKey: API_KEY })], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    children.add(child);
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => void (stderr += d.toString("utf8")));
    child.stdout?.on("data", () => {});
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => (children.delete(child), resolve(code))));
    const ready = new Promise<void>((resolve, reject) => {
      child.on("message", (m: { type?: string }) => m?.type === "ready" && resolve());
      void exited.then((code) => reject(new Error(`worker ${config.name} exited (${code}) before it was ready:\n${stderr}`)));
    });
    const done = new Promise<WorkerReport>((resolve, reject) => {
      child.on("message", (m: WorkerReport) => m?.type === "done" && resolve(m));
      void exited.then((code) => reject(new Error(`worker ${config.name} exited (${code}) without a report:\n${stderr}`)));
    });
    ready.catch(() => {});
    done.catch(() => {});
    return { name: config.name, logPath, child, ready, done, exited, stderr: () => stderr };
  }

  return {
    startWorker,
    /** Starts every worker, and tells them to go once all are ready (the whole fleet starts at once). */
    async startFleet(configs: WorkerSettings[]): Promise<Worker[]> {
      const workers = configs.map(startWorker);
      await Promise.all(workers.map((w) => w.ready));
      for (const w of workers) w.child.send("go");
      return workers;
    },
    /** Kills what still runs and removes the logs. */
    close(): void {
      for (const child of children) child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
