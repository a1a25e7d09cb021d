/**
 * RedisBudgetStore against a real redis-server: the store contract (the run's shared server, two stores on
 * two connections as two workers), what is its own (key layout, exact integers in Redis, how long ended ids
 * are remembered), and deadlines that measure Redis, not this process (a blocked event loop is not an
 * outage; a frozen Redis still is, on a server of this file's own, SIGSTOPped and SIGCONTed).
 */
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StoreLimit } from "../../src/budget/store.js";
import { RedisBudgetStore } from "../../src/integrations/redis.js";
import { describeStoreContract } from "../budget/store-contract.js";
import { type RedisServerHandle, startRedisServer } from "../support/redis-server.js";
import { describeRedis, liveRedisUnderTest, redisUrl, uniqueId } from "../support/redis.js";

const HOUR = 3_600_000;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Keeps this thread busy for `ms`: no timer, no I/O callback runs meanwhile. */
function blockEventLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

describeRedis("RedisBudgetStore (contract)", () => {
  describeStoreContract("RedisBudgetStore", () => {
    const prefix = `${uniqueId("contract")}:`;
    return liveRedisUnderTest(new RedisBudgetStore({ url: redisUrl, prefix }), new RedisBudgetStore({ url: redisUrl, prefix }));
  });
});

describeRedis("RedisBudgetStore in Redis", () => {
  let store: RedisBudgetStore;
  let redis: Redis;
  beforeAll(() => {
    store = new RedisBudgetStore({ url: redisUrl });
    redis = new Redis(redisUrl);
  });
  afterAll(async () => {
    await store?.close();
    redis?.disconnect();
  });

  const limit = (label: string, limitNano: number, expiresAt?: number): StoreLimit => ({
    key: `${label}:${uniqueId("k")}`,
    limitNano,
    expiresAt,
  });

  it("keeps a limit in K (spent, and reserved: the sum of its holds), K:holds, K:exp, K:expired, K:expired:at, all expiring with the window", async () => {
    const windowEnd = (await store.now()) + 2 * HOUR;
    const day = limit("user:u1:day", 10_000_000, windowEnd);
    const total = limit("org:o:total", 10_000_000);
    const [slow, pending, paid] = [uniqueId("slow"), uniqueId("pending"), uniqueId("paid")];
    await store.reserve(slow, [day, total], 700, 50);
    await sleep(100);
    await store.reserve(pending, [day, total], 1000, 60_000);
    await store.settle(paid, [day, total], 2000);

    for (const l of [day, total]) {
      expect(await redis.hgetall(`lcm:${l.key}`)).toEqual({ spent: "2700", reserved: "1000" });
      expect(await redis.hgetall(`lcm:${l.key}:holds`)).toEqual({ [pending]: "1000" });
      expect(await redis.zrange(`lcm:${l.key}:exp`, "0", "-1")).toEqual([pending]);
      expect(await redis.hgetall(`lcm:${l.key}:expired`)).toEqual({ [slow]: "700" });
      expect(await redis.zrange(`lcm:${l.key}:expired:at`, "0", "-1")).toEqual([slow]);
    }
    for (const suffix of ["", ":holds", ":exp", ":expired", ":expired:at"]) {
      const ttl = await redis.pttl(`lcm:${day.key}${suffix}`);
      expect(Math.abs(ttl - (windowEnd - (await store.now())))).toBeLessThan(5000);
      expect(await redis.pttl(`lcm:${total.key}${suffix}`)).toBe(-1); // a "total" quota never expires
    }
    const markerTtl = await redis.pttl(`lcm:settled:${paid}`);
    expect(markerTtl).toBeGreaterThan(24 * HOUR - 60_000); // ended ids are remembered for a day by default
    expect(markerTtl).toBeLessThanOrEqual(24 * HOUR);
    expect(await redis.get(`lcm:settled:${paid}`)).toBe("settled");
  });

  it("reads a limit written before `reserved` was kept (0.1.0's layout): its holds are added up once, then kept as a running sum", async () => {
    const l = limit("user:u-old:day", 10_000);
    const far = (await store.now()) + HOUR;
    await redis.hset(`lcm:${l.key}`, "spent", "100");
    await redis.hset(`lcm:${l.key}:holds`, "old-a", "300", "old-b", "50");
    await redis.zadd(`lcm:${l.key}:exp`, far, "old-a", far, "old-b");

    expect((await store.check([l])).states[0]).toMatchObject({ spentNano: 100, reservedNano: 350 });
    expect((await store.reserve(uniqueId("new"), [l], 200, 60_000)).states[0]).toMatchObject({ spentNano: 100, reservedNano: 550 });
    expect(await store.settle("old-a", [l], 250)).toEqual([expect.objectContaining({ spentNano: 350, reservedNano: 250 })]);
    await store.release("old-b", [l]);
    expect(await redis.hgetall(`lcm:${l.key}`)).toEqual({ spent: "350", reserved: "200" });
  });

  it("says so when a script's reply isn't the shape this version's scripts answer (another version on the same prefix)", async () => {
    const other = new RedisBudgetStore({ url: redisUrl });
    try {
      other.client.defineCommand("lcmCheck", { lua: "return {0, '1', '0', '7'}" }); // one value too many
      await expect(other.check([limit("shape", 1000)])).rejects.toThrow(/expected a script reply of 3 values, got \[0,"1","0","7"\].*own `prefix`/);
    } finally {
      await other.close();
    }
  });

  it("writes amounts as exact integers: 1e14 and 2^53 − 1, never 1e+14", async () => {
    const l = limit("big", Number.MAX_SAFE_INTEGER);
    await store.reserve("held-1e14", [l], 1e14, 60_000);
    await store.settle(uniqueId("max"), [l], Number.MAX_SAFE_INTEGER - 1e14);
    expect(await redis.hget(`lcm:${l.key}:holds`, "held-1e14")).toBe("100000000000000");
    expect(await redis.hget(`lcm:${l.key}`, "spent")).toBe(String(Number.MAX_SAFE_INTEGER - 1e14));
    await store.settle("held-1e14", [l], 1e14);
    expect(await redis.hget(`lcm:${l.key}`, "spent")).toBe("9007199254740991");
    expect((await store.check([l])).states[0]?.spentNano).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("remembers ended ids, and expired holds' charges, for settledTtlMs", async () => {
    const short = new RedisBudgetStore({ url: redisUrl, settledTtlMs: 150 });
    try {
      const l = limit("tenant", 10_000_000);
      const [paid, slow] = [uniqueId("paid"), uniqueId("slow")];
      await short.reserve(slow, [l], 700, 20);
      await short.settle(paid, [l], 100);
      expect(await redis.pttl(`lcm:settled:${paid}`)).toBeLessThanOrEqual(150);
      await sleep(40);
      expect((await short.check([l])).states[0]?.spentNano).toBe(800); // the slow call's hold, charged

      await sleep(200);
      await short.settle(paid, [l], 100); // forgotten: counts again
      await short.settle(slow, [l], 300); // its charge forgotten too: counts on top
      expect((await short.check([l])).states[0]?.spentNano).toBe(1200);
      expect(await redis.hlen(`lcm:${l.key}:expired`)).toBe(0);
    } finally {
      await short.close();
    }
  });
});

describeRedis("RedisBudgetStore deadlines measure Redis, not this process", () => {
  it("a blocked event loop (3 × timeoutMs) fails none of the operations in flight", async () => {
    const timeoutMs = 100;
    const stores = [new RedisBudgetStore({ url: redisUrl, timeoutMs }), new RedisBudgetStore({ url: redisUrl, timeoutMs })];
    try {
      const l = { key: `busy:${randomUUID()}`, limitNano: 1e12 };
      await Promise.all(stores.map((s) => s.check([l]))); // connected, scripts loaded
      const operations = Array.from({ length: 60 }, (_, i) => {
        const s = stores[i % 2]!;
        const call = `busy-${i}`;
        switch (i % 4) {
          case 0:
            return s.check([l]);
          case 1:
            return s.reserve(call, [l], 1000, 60_000);
          case 2:
            return s.settle(call, [l], 500);
          default:
            return s.release(`busy-${i - 2}`, [l]);
        }
      });
      blockEventLoop(3 * timeoutMs);
      const results = await Promise.allSettled(operations);
      expect(results.filter((r) => r.status === "rejected")).toEqual([]);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it("nor does it fail operations of a store still connecting when the loop blocks", async () => {
    const timeoutMs = 100;
    const store = new RedisBudgetStore({ url: redisUrl, timeoutMs });
    try {
      const l = { key: `busy:${randomUUID()}`, limitNano: 1e12 };
      const operations = [store.check([l]), store.reserve("fresh", [l], 1, 60_000), store.now()];
      blockEventLoop(3 * timeoutMs);
      const results = await Promise.allSettled(operations);
      expect(results.filter((r) => r.status === "rejected")).toEqual([]);
    } finally {
      await store.close();
    }
  });

  describe("against a frozen Redis (SIGSTOP)", () => {
    let server: RedisServerHandle | undefined;
    beforeAll(async () => {
      server = await startRedisServer();
    }, 30_000);
    afterAll(async () => server?.close());

    it("still times out after about timeoutMs", async () => {
      const timeoutMs = 200;
      const store = new RedisBudgetStore({ url: server!.url, timeoutMs });
      const l = { key: `frozen:${randomUUID()}`, limitNano: 1000 };
      try {
        await store.check([l]);
        process.kill(server!.pid!, "SIGSTOP");
        try {
          const started = performance.now();
          const error = await store.check([l]).then(
            () => undefined,
            (e: unknown) => e,
          );
          const elapsed = performance.now() - started;
          expect(error).toBeInstanceOf(Error);
          expect(String(error)).toMatch(/Redis did not answer within 200 ms/);
          expect(elapsed).toBeGreaterThanOrEqual(timeoutMs - 5);
          expect(elapsed).toBeLessThan(timeoutMs + 400); // generous: timers under a loaded test run
        } finally {
          process.kill(server!.pid!, "SIGCONT");
        }
        expect((await store.check([l])).states).toHaveLength(1); // and answers again once it wakes
      } finally {
        await store.close();
      }
    });
  });
});
