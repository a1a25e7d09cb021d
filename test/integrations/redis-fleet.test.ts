/**
 * A fleet: several Node PROCESSES (test/integrations/fleet-worker.ts, forked with `node --import tsx`)
 * spending at once against one tenant's quota in the run's redis-server, through MeteredChatModel under a
 * hard cap, all against one loopback fake OpenAI started here.
 *
 * The fake serves exactly what it was allowed: 1000 prompt tokens (the prompt counts 1008 locally, so the
 * reservation covers it) and min(500, max_tokens) completion tokens. A full call costs 1000 × 150 +
 * 500 × 600 = 450,000 nano-USD; its reservation is 1141 × 150 + 500 × 600 = 471,150 (input + 10 % + 32).
 */
import { type ChildProcess, fork } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { BudgetCallbackHandler, type MeterEntry } from "../../src/index.js";
import { RedisBudgetStore } from "../../src/integrations/redis.js";
import { windowAt } from "../../src/budget/windows.js";
import { encoderFor } from "../../src/usage/tokenizer.js";
import { eventually, meteredModel, rejectionOf } from "../budget/helpers.js";
import { type FakeOpenAI, startFakeOpenAI } from "../support/openai-server.js";
import { describeRedis, redisUrl, uniqueId } from "../support/redis.js";
import type { WorkerConfig, WorkerReport } from "./fleet-worker.js";

const WORKER = fileURLToPath(new URL("./fleet-worker.ts", import.meta.url));
const API_KEY = "sk-fleet-SECRET-never-logged";
const PROMPT = "hello ".repeat(1000); // 1008 tokens counted locally
const FULL_CALL_NANO = 450_000;
const FULL_RESERVATION_NANO = 471_150;

let server: FakeOpenAI;
let store: RedisBudgetStore;
let dir = "";
const children = new Set<ChildProcess>();

/** Clears the recorded requests; the fake then serves as a real server would. */
function resetServer(): void {
  server.reset();
  // Never more output than max_tokens, as a real server. "SLOW" prompts hang for 10 s.
  server.setDefault((request) => {
    const prompt = String(request.body.messages?.[0]?.content ?? "");
    const maxTokens = Number(request.body.max_tokens ?? request.body.max_completion_tokens ?? 500);
    return {
      // Input as the prompt counts (1008 tokens locally for PROMPT; a short prompt counts 8).
      usage: { promptTokens: prompt === PROMPT ? 1000 : 5, completionTokens: Math.min(500, maxTokens) },
      content: "ok",
      chunkDelayMs: prompt.startsWith("SLOW") ? 10_000 : 2,
    };
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "lcm-fleet-"));
  server = await startFakeOpenAI();
  await encoderFor("gpt-4o-mini"); // load the tokenizer now: it takes seconds, longer than a short hold lives
  if (redisUrl) store = new RedisBudgetStore({ url: redisUrl });
});
afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await store?.close();
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Worker {
  child: ChildProcess;
  ready: Promise<void>;
  done: Promise<WorkerReport>;
  stderr: () => string;
}

function startWorker(config: Omit<WorkerConfig, "redisUrl" | "openaiUrl" | "apiKey">): Worker {
  const child = fork(WORKER, [JSON.stringify({ ...config, redisUrl, openaiUrl: server.url, apiKey: API_KEY })], {
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
  done.catch(() => {});
  return { child, ready, done, stderr: () => stderr };
}

const linesOf = (path: string): MeterEntry[] =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as MeterEntry);

describeRedis("a fleet of worker processes sharing one tenant quota in Redis", () => {
  it(
    "4 processes × 3 calls in flight end at or under the quota, and their JSONL logs sum to the Redis counter to the nano-dollar",
    async () => {
      resetServer();
      const tenant = uniqueId("acme");
      const quotaUsd = 0.02; // 20,000,000 nano: 44 full calls at most
      const workers = (["model", "handler", "model", "handler"] as const).map((mode, i) =>
        startWorker({
          name: `w${i}`,
          tenant,
          quotaUsd,
          logPath: join(dir, `${tenant}-w${i}.jsonl`),
          mode,
          lanes: 3,
          maxCalls: 40,
          maxRefusals: 25,
          prompt: PROMPT,
        }),
      );
      await Promise.all(workers.map((w) => w.ready));
      for (const w of workers) w.child.send("go");
      const reports = await Promise.all(workers.map((w) => w.done));

      const key = `lcm:tenant:${tenant}:${windowAt("month", await store.now()).id}`;
      const counter = Number(await store.client.hget(key, "spent"));
      const lines = workers.flatMap((_, i) => linesOf(join(dir, `${tenant}-w${i}.jsonl`)));
      const logged = lines.reduce((sum, line) => sum + line.costNanoUsd, 0);
      // What the fleet did, shown with any failed assertion below.
      const story = JSON.stringify({
        counter,
        logged,
        requests: server.requests.length,
        reports,
        decisions: lines.map((l) => `${l.decision}:${l.costNanoUsd}`),
      });

      expect(reports.flatMap((r) => r.errors), story).toEqual([]);
      // At or under the quota, and used up to less than one full call's reservation.
      expect(counter, story).toBeLessThanOrEqual(20_000_000);
      expect(counter, story).toBeGreaterThan(20_000_000 - FULL_RESERVATION_NANO);
      // The logs and the store agree to the nano-dollar; every request sent was priced and logged once.
      expect(logged, story).toBe(counter);
      expect(lines.length, story).toBe(server.requests.length);
      expect(reports.reduce((sum, r) => sum + r.sent, 0), story).toBe(lines.length);
      expect(reports.reduce((sum, r) => sum + r.exceeded, 0), story).toBe(0);
      expect(lines.every((l) => l.quotaKeys.length === 1 && `lcm:${l.quotaKeys[0]}` === key), story).toBe(true);
      expect(lines.every((l) => l.decision === "allowed" || l.decision === "clamped"), story).toBe(true);
      expect(lines.filter((l) => l.decision === "allowed").every((l) => l.costNanoUsd === FULL_CALL_NANO), story).toBe(true);
      // Every worker took part, and the fleet was refused once the quota was spent.
      expect(reports.every((r) => r.sent > 0), story).toBe(true);
      expect(reports.reduce((sum, r) => sum + r.refused, 0), story).toBeGreaterThan(0);
      // No hold is left behind.
      expect(await store.client.hlen(`${key}:holds`), story).toBe(0);
      for (let i = 0; i < workers.length; i++) expect(readFileSync(join(dir, `${tenant}-w${i}.jsonl`), "utf8")).not.toContain(API_KEY);
    },
    240_000,
  );

  it(
    "a worker SIGKILLed mid-call leaves a hold that blocks the tenant until its TTL, then the quota frees up",
    async () => {
      resetServer();
      const tenant = uniqueId("crash");
      const quota = [{ key: "tenant:{tenant_id}", limitUsd: 0.0002, window: "month" as const }];
      const key = `lcm:tenant:${tenant}:${windowAt("month", await store.now()).id}`;
      const worker = startWorker({
        name: "doomed",
        tenant,
        quotaUsd: 0.0002,
        logPath: join(dir, `${tenant}.jsonl`),
        mode: "handler",
        lanes: 1,
        maxCalls: 1,
        maxRefusals: 1,
        prompt: "SLOW hi",
        reservationTtlMs: 3000,
      });
      await worker.ready;
      worker.child.send("go");
      // The hold is made before the request is sent: once the server has it, the quota is all held.
      expect(await eventually(() => server.requests.length === 1, 20_000)).toBe(true);
      const [holdId] = await store.client.hkeys(`${key}:holds`);
      const held = Number(await store.client.hget(`${key}:holds`, holdId ?? ""));
      expect(held).toBeGreaterThan(190_000); // clamped to what $0.0002 pays for
      expect(held).toBeLessThanOrEqual(200_000);
      const expiresAt = Number(await store.client.zscore(`${key}:exp`, holdId ?? "")); // Redis' clock
      expect(expiresAt - (await store.now())).toBeLessThanOrEqual(3000);

      const exited = new Promise((resolve) => worker.child.once("exit", resolve));
      worker.child.kill("SIGKILL");
      await exited;

      const probe = meteredModel(server, { maxTokens: 500 });
      const budget = () => new BudgetCallbackHandler({ hardCap: true, quotas: quota, store });
      const refused = await rejectionOf(probe.invoke("hi", { callbacks: [budget()], metadata: { tenant_id: tenant } }));
      expect(refused).toMatchObject({ scope: `tenant:${tenant}`, stop: "refused" });
      expect(server.requests).toHaveLength(1);
      expect(await eventually(() => server.requests[0]?.aborted === true, 5000)).toBe(true);

      // Nothing settles or releases the dead worker's hold; its TTL does.
      let freed = false;
      for (const until = Date.now() + 8000; !freed && Date.now() < until; ) {
        freed = (await store.check([{ key: key.slice(4), limitNano: 200_000 }])).states[0]?.reservedNano === 0;
        if (!freed) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(freed).toBe(true);
      expect(await store.now()).toBeGreaterThanOrEqual(expiresAt - 5); // freed by its expiry, not before

      await probe.invoke("hi", { callbacks: [budget()], metadata: { tenant_id: tenant } });
      expect(server.requests).toHaveLength(2);
      expect(Number(await store.client.hget(key, "spent"))).toBeLessThanOrEqual(200_000);
      expect(Number(await store.client.hget(key, "spent"))).toBeGreaterThan(0);
    },
    60_000,
  );
});
