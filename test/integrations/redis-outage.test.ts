/**
 * Redis going away mid-run, against a redis-server of this file's own (started, stopped and restarted on
 * the same port, with an fsynced append-only file so its data survives the restart; the run's shared
 * server is never touched): by default the next call is refused with BudgetStoreUnavailableError before
 * anything is sent; with `onStoreError: "allow"` calls go on (one warning); once Redis is back, nothing
 * is counted twice.
 *
 * Figures: $0.00045 = 450,000 nano-USD a call.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, expect, it, vi } from "vitest";
import {
  BudgetCallbackHandler,
  BudgetStoreUnavailableError,
  type MeterEntry,
  type Quota,
} from "../../src/index.js";
import { JsonlMeterSink } from "../../src/integrations/jsonl.js";
import { RedisBudgetStore } from "../../src/integrations/redis.js";
import { windowAt } from "../../src/budget/windows.js";
import { CALL_NANO, meteredModel, rejectionOf, USAGE, useFakeOpenAI } from "../budget/helpers.js";
import { type RedisServerHandle, startRedisServer } from "../support/redis-server.js";
import { describeRedis, redisUrl, uniqueId } from "../support/redis.js";

const server = useFakeOpenAI();
let dir = "";
let redis: RedisServerHandle | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "lcm-outage-"));
  if (redisUrl) redis = await startRedisServer({ persistent: true });
}, 30_000);
afterAll(async () => {
  await redis?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});
afterEach(() => vi.restoreAllMocks());

const QUOTAS: Quota[] = [{ key: "tenant:{tenant_id}", limitUsd: 1, window: "month" }];

/**
 * Waits until ioredis has failed every command it queued while disconnected. (It queues them while it
 * reconnects, and sends them if the reconnection succeeds: a settle that timed out during the outage can
 * still reach Redis when it comes back. That counts the call once, in Redis; see the SIGSTOP test.)
 */
async function untilQueueFlushed(store: RedisBudgetStore, ms = 10_000): Promise<void> {
  const queue = (store.client as unknown as { offlineQueue: { length: number } }).offlineQueue;
  const until = Date.now() + ms;
  while (queue.length > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
  expect(queue.length).toBe(0);
}

/** Waits until the store answers again (ioredis reconnects on its own schedule, within 2 s). */
async function untilAnswering(store: RedisBudgetStore, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      await store.check([{ key: "probe:total", limitNano: 1 }]);
      return;
    } catch (error) {
      if (Date.now() > until) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

describeRedis("Redis stopped mid-run", () => {
  it(
    'refuses by default (no request sent), allows with onStoreError: "allow" (one warning), and counts nothing twice once Redis is back',
    async () => {
      server().setDefault({ usage: USAGE });
      const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
      const store = new RedisBudgetStore({ url: redis!.url, timeoutMs: 300 });
      const tenant = uniqueId("acme");
      const metadata = { tenant_id: tenant };
      const key = `lcm:tenant:${tenant}:${windowAt("month", await store.now()).id}`;
      const path = join(dir, `${tenant}.jsonl`);
      const meter = new JsonlMeterSink(path);
      const model = meteredModel(server());
      const deny = () => new BudgetCallbackHandler({ quotas: QUOTAS, store, meter });
      const denyHardCap = () => new BudgetCallbackHandler({ quotas: QUOTAS, store, meter, hardCap: true });
      const allow = new BudgetCallbackHandler({ quotas: QUOTAS, store, meter, onStoreError: "allow" });
      try {
        await model.invoke("before", { callbacks: [deny()], metadata });
        expect(await store.client.hget(key, "spent")).toBe(String(CALL_NANO));

        await redis!.stop();

        const refused = await rejectionOf(model.invoke("down", { callbacks: [deny()], metadata }));
        expect(BudgetStoreUnavailableError.isInstance(refused)).toBe(true);
        expect(refused).toMatchObject({ status: 503 });
        const refusedHardCap = await rejectionOf(model.invoke("down, hard cap", { callbacks: [denyHardCap()], metadata }));
        expect(BudgetStoreUnavailableError.isInstance(refusedHardCap)).toBe(true);
        expect(server().requests).toHaveLength(1); // zero HTTP requests while Redis is down

        await model.invoke("allowed 1", { callbacks: [allow], metadata });
        await model.invoke("allowed 2", { callbacks: [allow], metadata });
        expect(server().requests).toHaveLength(3);
        expect(warn).toHaveBeenCalledTimes(1);
        expect(String(warn.mock.calls[0]?.[0])).toContain("the budget store is unavailable; metering quotas locally");

        await untilQueueFlushed(store);
        await redis!.start();
        await untilAnswering(store);

        await model.invoke("after", { callbacks: [deny()], metadata });
        await model.invoke("after, hard cap", { callbacks: [denyHardCap()], metadata });
        expect(server().requests).toHaveLength(5);
        await meter.flush();

        // Redis kept what it had (fsynced AOF) and took the calls made while it was up: each once. The two
        // calls allowed during the outage were metered locally and are in the log, never replayed into Redis.
        expect(await store.client.hget(key, "spent")).toBe(String(3 * CALL_NANO));
        const lines = readFileSync(path, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as MeterEntry);
        expect(lines.map((l) => l.costNanoUsd)).toEqual([CALL_NANO, CALL_NANO, CALL_NANO, CALL_NANO, CALL_NANO]);
        expect(await store.client.hlen(`${key}:holds`)).toBe(0);
        expect(warn).toHaveBeenCalledTimes(1);
      } finally {
        if (!redis!.running) await redis!.start();
        await store.close();
      }
    },
    60_000,
  );

  it("a settle retried across a Redis restart still counts once", async () => {
    const store = new RedisBudgetStore({ url: redis!.url, timeoutMs: 300 });
    try {
      await untilAnswering(store);
      const limits = [{ key: `tenant:${uniqueId("t")}:total`, limitNano: 10_000_000 }];
      const id = uniqueId("call");
      await store.reserve(id, limits, 500_000, 60_000);
      const first = await store.settle(id, limits, CALL_NANO);

      await redis!.stop();
      await expect(store.settle(id, limits, CALL_NANO)).rejects.toThrow(); // the retry fails while it is down
      await redis!.start();
      await untilAnswering(store);

      expect(await store.settle(id, limits, CALL_NANO)).toEqual(first); // and counts nothing once it is back
      expect(await store.client.hget(`lcm:${limits[0]!.key}`, "spent")).toBe(String(CALL_NANO));
    } finally {
      if (!redis!.running) await redis!.start();
      await store.close();
    }
  }, 60_000);

  it('a Redis that hangs (SIGSTOP): refused within the timeout; under "allow", the settle it missed lands once after SIGCONT', async () => {
    server().setDefault({ usage: USAGE });
    const store = new RedisBudgetStore({ url: redis!.url, timeoutMs: 300 });
    const tenant = uniqueId("hang");
    try {
      await untilAnswering(store);
      const model = meteredModel(server());
      const budget = () => new BudgetCallbackHandler({ quotas: QUOTAS, store });
      process.kill(redis!.pid!, "SIGSTOP");
      try {
        const started = Date.now();
        const error = await rejectionOf(model.invoke("hung", { callbacks: [budget()], metadata: { tenant_id: tenant } }));
        expect(BudgetStoreUnavailableError.isInstance(error)).toBe(true);
        expect(Date.now() - started).toBeLessThan(3000);
        expect(server().requests).toHaveLength(0);
      } finally {
        process.kill(redis!.pid!, "SIGCONT");
      }
      await untilAnswering(store);
      await model.invoke("resumed", { callbacks: [budget()], metadata: { tenant_id: tenant } });
      const key = `lcm:tenant:${tenant}:${windowAt("month", await store.now()).id}`;
      expect(await store.client.hget(key, "spent")).toBe(String(CALL_NANO));

      // Under "allow", a call during the hang goes through; its check and settle time out (metered
      // locally), but they were sent: Redis runs them when it wakes, and the call counts there once.
      vi.spyOn(console, "warn").mockImplementation(() => {});
      const allow = new BudgetCallbackHandler({ quotas: QUOTAS, store, onStoreError: "allow" });
      process.kill(redis!.pid!, "SIGSTOP");
      try {
        await model.invoke("hung, allowed", { callbacks: [allow], metadata: { tenant_id: tenant } });
        expect(server().requests).toHaveLength(2);
      } finally {
        process.kill(redis!.pid!, "SIGCONT");
      }
      await untilAnswering(store);
      expect(await store.client.hget(key, "spent")).toBe(String(2 * CALL_NANO));
    } finally {
      await store.close();
    }
  }, 60_000);
});
