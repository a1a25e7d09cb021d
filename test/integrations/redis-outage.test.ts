/**
 * Redis going away mid-run, against a redis-server of this file's own (started, stopped and restarted on
 * the same port, with an fsynced append-only file so its data survives the restart; the run's shared
 * server is never touched): by default the next call is refused with BudgetStoreUnavailableError before
 * anything is sent; with `onStoreError: "allow"` calls go on (one warning) and are metered locally; once
 * Redis is back, nothing is counted twice, and the metering log and the Redis counter agree call by call
 * (test/support/redis-ledger.ts: the last line per call id counts).
 *
 * The store's circuit breaker (`storeGuard`) refuses at once while Redis is down and lets a probe through
 * 1 s after a failure: each test creates its store's guard first, on a clock the test moves (`breakerClock`),
 * so no test sleeps for the breaker.
 *
 * Figures: $0.00045 = 450,000 nano-USD a call (1000 tokens in, 500 out, gpt-4o-mini).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, expect, it, vi } from "vitest";
import {
  BudgetCallbackHandler,
  type BudgetStore,
  BudgetStoreUnavailableError,
  type MeterEntry,
  type MeterSink,
  type Quota,
} from "../../src/index.js";
import { pendingStoreEnds } from "../../src/budget/quota-side.js";
import { storeGuard } from "../../src/budget/store-guard.js";
import { JsonlMeterSink } from "../../src/integrations/jsonl.js";
import { RedisBudgetStore } from "../../src/integrations/redis.js";
import { windowAt } from "../../src/budget/windows.js";
import { CALL_NANO, meteredModel, rejectionOf, USAGE, useFakeOpenAI } from "../budget/helpers.js";
import { lastLines, readLog, reconcile } from "../support/redis-ledger.js";
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
afterEach(async () => {
  vi.restoreAllMocks();
  if (redis && !redis.running) await redis.start();
});

const QUOTAS: Quota[] = [{ key: "tenant:{tenant_id}", limitUsd: 1, window: "month" }];

/** The store's circuit breaker on a clock the test moves. Call it before the store is first used by a budget. */
function breakerClock(store: BudgetStore): { advance(ms: number): void } {
  let now = 0;
  storeGuard(store, { clock: () => now });
  return { advance: (ms) => void (now += ms) };
}

/** A metering log in memory. */
class MemorySink implements MeterSink {
  readonly lines: MeterEntry[] = [];
  write(entry: MeterEntry): void {
    this.lines.push(entry);
  }
}

/** `store` with a hook run before each reserve (e.g. to freeze Redis right then), and the store's own methods. */
function hooked(store: RedisBudgetStore, beforeReserve: () => void): BudgetStore {
  return {
    now: () => store.now(),
    check: (limits) => store.check(limits),
    settle: (callId, limits, cost) => store.settle(callId, limits, cost),
    release: (callId, limits) => store.release(callId, limits),
    reserve: (callId, limits, amount, ttlMs) => {
      beforeReserve();
      return store.reserve(callId, limits, amount, ttlMs);
    },
  };
}

/** `store`, with Redis frozen (SIGSTOP) right before its first reserve. */
function frozenAtFirstHold(store: RedisBudgetStore): BudgetStore {
  let freeze = true;
  return hooked(store, () => {
    if (freeze) process.kill(redis!.pid!, "SIGSTOP");
    freeze = false;
  });
}

/**
 * Waits until ioredis has failed every command it queued while disconnected. (It queues them while it
 * reconnects, and sends them if the reconnection succeeds: a command that timed out during the outage can
 * still reach Redis when it comes back. Settles and releases count once whenever they land.)
 */
async function untilQueueFlushed(store: RedisBudgetStore, ms = 10_000): Promise<void> {
  const queue = (store.client as unknown as { offlineQueue: { length: number } }).offlineQueue;
  const until = Date.now() + ms;
  while (queue.length > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
  expect(queue.length).toBe(0);
}

/** Waits until the store answers again (ioredis reconnects on its own schedule, within 2 s). Bypasses the breaker. */
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

/** The tenant's counter key, prefix included. */
async function counterKey(store: RedisBudgetStore, tenant: string): Promise<string> {
  return `lcm:tenant:${tenant}:${windowAt("month", await store.now()).id}`;
}

describeRedis("Redis stopped mid-run", () => {
  it(
    'refuses by default (no request sent), allows with onStoreError: "allow" (one warning), and counts nothing twice once Redis is back',
    async () => {
      server().setDefault({ usage: USAGE });
      const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
      const store = new RedisBudgetStore({ url: redis!.url, timeoutMs: 300 });
      const clock = breakerClock(store);
      const tenant = uniqueId("acme");
      const metadata = { tenant_id: tenant };
      const key = await counterKey(store, tenant);
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
        // The breaker is open now: the next call is refused without waiting for Redis at all.
        const started = performance.now();
        const refusedHardCap = await rejectionOf(model.invoke("down, hard cap", { callbacks: [denyHardCap()], metadata }));
        expect(BudgetStoreUnavailableError.isInstance(refusedHardCap)).toBe(true);
        expect(performance.now() - started).toBeLessThan(100);
        expect(server().requests).toHaveLength(1); // zero HTTP requests while Redis is down

        await model.invoke("allowed 1", { callbacks: [allow], metadata });
        await model.invoke("allowed 2", { callbacks: [allow], metadata });
        expect(server().requests).toHaveLength(3);
        expect(warn).toHaveBeenCalledTimes(1);
        expect(String(warn.mock.calls[0]?.[0])).toContain("the budget store is unavailable; metering quotas locally");

        await untilQueueFlushed(store);
        await redis!.start();
        await untilAnswering(store);
        clock.advance(1000); // the breaker's first probe goes through, finds Redis back, and closes it

        await model.invoke("after", { callbacks: [deny()], metadata });
        await model.invoke("after, hard cap", { callbacks: [denyHardCap()], metadata });
        expect(server().requests).toHaveLength(5);
        await meter.flush();

        // Redis kept what it had (fsynced AOF) and took the calls made while it was up: each once. The two
        // calls allowed during the outage were metered locally: they are in the log, never replayed into
        // Redis. Reconciling the log with the counter: the log (last line per call id; the hard-capped call's
        // "held" line is followed by its cost) is the counter plus exactly the calls Redis has no trace of.
        const lines = readLog(path);
        expect([...lastLines(lines).values()].map((l) => l.costNanoUsd)).toEqual(Array(5).fill(CALL_NANO));
        expect(lines.map((l) => l.decision)).toEqual(["allowed", "allowed", "allowed", "allowed", "held", "allowed"]);
        const ledger = await reconcile(store.client, key, lines);
        expect(ledger.mismatches).toEqual([]);
        expect(ledger.counter).toBe(3 * CALL_NANO);
        expect(ledger.explained).toBe(ledger.counter); // nothing counted twice
        expect(ledger.localOnly).toHaveLength(2);
        expect(ledger.logged - ledger.localOnly.reduce((sum, l) => sum + l.costNanoUsd, 0)).toBe(ledger.counter);
        expect(await store.client.hlen(`${key}:holds`)).toBe(0);
        expect(warn).toHaveBeenCalledTimes(1);
      } finally {
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
      await store.close();
    }
  }, 60_000);

  it('a Redis that hangs (SIGSTOP): refused within the timeout; under "allow", a call during the hang is metered locally, once', async () => {
    server().setDefault({ usage: USAGE });
    const store = new RedisBudgetStore({ url: redis!.url, timeoutMs: 300 });
    const clock = breakerClock(store);
    const tenant = uniqueId("hang");
    const sink = new MemorySink();
    try {
      await untilAnswering(store);
      const model = meteredModel(server());
      const budget = () => new BudgetCallbackHandler({ quotas: QUOTAS, store, meter: sink });
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
      clock.advance(1000);
      await model.invoke("resumed", { callbacks: [budget()], metadata: { tenant_id: tenant } });
      const key = await counterKey(store, tenant);
      expect(await store.client.hget(key, "spent")).toBe(String(CALL_NANO));

      // Under "allow", a call during the hang goes through. Its check times out (and opens the breaker); its
      // settle is then refused by the open breaker without being sent, so the call is metered locally only.
      // (0.1.0 expected that settle to land in Redis after SIGCONT: it had been queued on the frozen
      // connection. With the breaker it is never sent: under "allow", a call admitted while the store is
      // down is this process's, in the log and the local view, never replayed into Redis.)
      vi.spyOn(console, "warn").mockImplementation(() => {});
      const allow = new BudgetCallbackHandler({ quotas: QUOTAS, store, meter: sink, onStoreError: "allow" });
      process.kill(redis!.pid!, "SIGSTOP");
      try {
        await model.invoke("hung, allowed", { callbacks: [allow], metadata: { tenant_id: tenant } });
        expect(server().requests).toHaveLength(2);
      } finally {
        process.kill(redis!.pid!, "SIGCONT");
      }
      await untilAnswering(store);
      clock.advance(1000);
      await pendingStoreEnds();
      const ledger = await reconcile(store.client, key, sink.lines);
      expect(ledger.counter).toBe(CALL_NANO); // the late check that woke with Redis counted nothing
      expect(ledger.mismatches).toEqual([]);
      expect(ledger.localOnly.map((l) => l.costNanoUsd)).toEqual([CALL_NANO]);
      expect(ledger.logged).toBe(ledger.counter + CALL_NANO);
    } finally {
      await store.close();
    }
  }, 60_000);
});

describeRedis("Redis failing around a hard-capped call: the store ends up with what the log says", () => {
  it("frozen at the hold: refused, nothing sent; once Redis wakes, the hold that landed late is released and the log ends on $0", async () => {
    server().setDefault({ usage: USAGE });
    const inner = new RedisBudgetStore({ url: redis!.url, timeoutMs: 300 });
    const store = frozenAtFirstHold(inner);
    const clock = breakerClock(store);
    const tenant = uniqueId("frozen-hold");
    const sink = new MemorySink();
    const model = meteredModel(server(), { budget: { hardCap: true, quotas: QUOTAS, store, meter: sink } });
    try {
      await untilAnswering(inner);
      const started = Date.now();
      let error: unknown;
      try {
        error = await rejectionOf(model.invoke("hi", { metadata: { tenant_id: tenant } }));
      } finally {
        process.kill(redis!.pid!, "SIGCONT");
      }
      expect(BudgetStoreUnavailableError.isInstance(error)).toBe(true);
      expect(Date.now() - started).toBeLessThan(3000);
      expect(server().requests).toHaveLength(0);

      // The reserve reached the frozen Redis and ran when it woke; so did the release sent after it.
      await untilAnswering(inner);
      clock.advance(1000);
      await pendingStoreEnds();
      const key = await counterKey(inner, tenant);
      const ledger = await reconcile(inner.client, key, sink.lines);
      expect(sink.lines.map((l) => l.decision)).toEqual(["held", "released"]);
      expect(ledger.mismatches).toEqual([]);
      expect([ledger.counter, ledger.logged]).toEqual([0, 0]);
      expect([...ledger.traces.values()]).toEqual([{ marker: "released", expired: undefined, held: undefined }]);
    } finally {
      await inner.close();
    }
  }, 60_000);

  it("stopped while the call is in flight: the paid answer is kept, and its settle reaches Redis once it is back (the hold is not left to be charged at its worst case)", async () => {
    // The provider answers only after Redis went down (an fsynced AOF keeps the call's hold across the restart).
    server().setDefault(async () => {
      await redis!.stop();
      return { usage: USAGE, content: "paid for" };
    });
    const store = new RedisBudgetStore({ url: redis!.url, timeoutMs: 300 });
    const clock = breakerClock(store);
    const tenant = uniqueId("in-flight");
    const sink = new MemorySink();
    const model = meteredModel(server(), { budget: { hardCap: true, quotas: QUOTAS, store, meter: sink } });
    try {
      const key = await counterKey(store, tenant);
      const reply = await model.invoke("hi", { metadata: { tenant_id: tenant } });
      expect(reply.text).toBe("paid for");
      expect(sink.lines.map((l) => [l.decision, l.costNanoUsd])).toEqual([["held", expect.any(Number)], ["allowed", CALL_NANO]]);
      const callId = sink.lines[0]!.callId;

      await redis!.start();
      await untilAnswering(store);
      clock.advance(1000);
      await pendingStoreEnds();

      const ledger = await reconcile(store.client, key, sink.lines);
      expect(ledger.mismatches).toEqual([]);
      expect(ledger.traces.get(callId)).toEqual({ marker: "settled", expired: undefined, held: undefined });
      expect([ledger.counter, ledger.logged, ledger.explained]).toEqual([CALL_NANO, CALL_NANO, CALL_NANO]);
    } finally {
      await store.close();
    }
  }, 60_000);

  it("the provider fails (500) while Redis is down: the hold is released in Redis once it is back, and only then does the log say so", async () => {
    server().setDefault(async () => {
      await redis!.stop();
      return { status: 500 };
    });
    const store = new RedisBudgetStore({ url: redis!.url, timeoutMs: 300 });
    const clock = breakerClock(store);
    const tenant = uniqueId("released");
    const sink = new MemorySink();
    const model = meteredModel(server(), { budget: { hardCap: true, quotas: QUOTAS, store, meter: sink } });
    try {
      const key = await counterKey(store, tenant);
      await expect(model.invoke("hi", { metadata: { tenant_id: tenant } })).rejects.toThrow();
      // Redis still has the hold (it will be charged if nothing ends it): the log must not say $0 yet. Were
      // this process to die now, its last line ("held") would be exactly what Redis charges.
      expect(sink.lines.map((l) => l.decision)).toEqual(["held"]);

      await redis!.start();
      await untilAnswering(store);
      clock.advance(1000);
      await pendingStoreEnds();

      const ledger = await reconcile(store.client, key, sink.lines);
      expect(sink.lines.map((l) => l.decision)).toEqual(["held", "released"]);
      expect(ledger.mismatches).toEqual([]);
      expect([...ledger.traces.values()]).toEqual([{ marker: "released", expired: undefined, held: undefined }]);
      expect([ledger.counter, ledger.logged]).toEqual([0, 0]);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('"allow", frozen at the hold: the call goes on under a local hold; the hold that landed late in Redis is released there (the call is in the log, not in Redis, which never checked its room)', async () => {
    server().setDefault({ usage: USAGE });
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const inner = new RedisBudgetStore({ url: redis!.url, timeoutMs: 300 });
    const store = frozenAtFirstHold(inner);
    const clock = breakerClock(store);
    const tenant = uniqueId("allow-hold");
    const sink = new MemorySink();
    const model = meteredModel(server(), { budget: { hardCap: true, quotas: QUOTAS, store, meter: sink, onStoreError: "allow" } });
    try {
      await untilAnswering(inner);
      try {
        await model.invoke("hi", { metadata: { tenant_id: tenant } });
      } finally {
        process.kill(redis!.pid!, "SIGCONT");
      }
      expect(server().requests).toHaveLength(1);
      await untilAnswering(inner);
      clock.advance(1000);
      await pendingStoreEnds();

      const key = await counterKey(inner, tenant);
      const ledger = await reconcile(inner.client, key, sink.lines);
      expect(ledger.mismatches).toEqual([]);
      expect([...ledger.traces.values()]).toEqual([{ marker: "released", expired: undefined, held: undefined }]);
      expect(ledger.localOnly.map((line) => line.costNanoUsd)).toEqual([CALL_NANO]);
      expect([ledger.counter, ledger.logged]).toEqual([0, CALL_NANO]);
    } finally {
      await inner.close();
    }
  }, 60_000);
});
