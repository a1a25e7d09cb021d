/**
 * RedisBudgetStore against a real redis-server (the run's, from test/support/redis-global-setup.ts): every
 * operation atomic over all the limits it is given, holds that expire, a settle that counts once per call
 * id, counters that expire with their window, and Redis' clock as the store's.
 *
 * Each test uses keys no other test shares, so suites running side by side never meet.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BudgetCallbackHandler, type Quota, type StoreLimit } from "../../src/index.js";
import { RedisBudgetStore } from "../../src/integrations/redis.js";
import { resolveQuotas } from "../../src/budget/quotas.js";
import { windowAt } from "../../src/budget/windows.js";
import { CALL_NANO, meteredModel, rejectionOf, USAGE, useFakeOpenAI } from "../budget/helpers.js";
import { freePort } from "../support/redis-server.js";
import { describeRedis, redisUrl, uniqueId } from "../support/redis.js";

const HOUR = 3_600_000;

describeRedis("RedisBudgetStore", () => {
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

  const limit = (key: string, limitNano: number, expiresAt?: number): StoreLimit => ({ key, limitNano, expiresAt });

  it("its clock is Redis' TIME (here, the same machine's clock), in whole milliseconds", async () => {
    const [seconds, micros] = await redis.time();
    const redisMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    const now = await store.now();
    // The offset is the midpoint of two local readings around TIME: never half a millisecond.
    const fresh = Array.from({ length: 12 }, () => new RedisBudgetStore({ url: redisUrl }));
    const readings = await Promise.all(fresh.map((s) => s.now()));
    await Promise.all(fresh.map((s) => s.close()));
    expect(readings.filter((ms) => !Number.isInteger(ms))).toEqual([]);
    expect(Number.isInteger(now)).toBe(true);
    expect(Math.abs(now - redisMs)).toBeLessThan(1000);
    expect(Math.abs(now - Date.now())).toBeLessThan(1000);
  });

  it("check, reserve, settle and release: exact states, and the counter is HGET lcm:<key> spent", async () => {
    const key = `tenant:${uniqueId("acme")}:total`;
    const limits = [limit(key, 1_000_000)];

    expect(await store.check(limits)).toEqual({ states: [{ key, limitNano: 1_000_000, spentNano: 0, reservedNano: 0 }] });
    expect(await store.reserve("call-a", limits, 600_000, 60_000)).toEqual({});
    expect(await store.check(limits)).toEqual({ states: [{ key, limitNano: 1_000_000, spentNano: 0, reservedNano: 600_000 }] });
    // 600,000 held + 600,000 more > 1,000,000: refused, naming the limit.
    expect(await store.reserve("call-b", limits, 600_000, 60_000)).toEqual({
      refused: { key, limitNano: 1_000_000, spentNano: 0, reservedNano: 600_000 },
    });
    expect(await store.settle("call-a", limits, CALL_NANO)).toEqual([{ key, limitNano: 1_000_000, spentNano: CALL_NANO, reservedNano: 0 }]);
    expect(await redis.hget(`lcm:${key}`, "spent")).toBe(String(CALL_NANO));

    expect(await store.reserve("call-c", limits, 500_000, 60_000)).toEqual({});
    await store.release("call-c", limits);
    expect((await store.check(limits)).states[0]).toMatchObject({ spentNano: CALL_NANO, reservedNano: 0 });
    expect(await redis.hlen(`lcm:${key}:holds`)).toBe(0);

    // check refuses once spent >= limit (holds don't count: they are for reservations).
    await store.settle("call-d", limits, 550_000);
    expect(await store.check(limits)).toEqual({
      states: [{ key, limitNano: 1_000_000, spentNano: 1_000_000, reservedNano: 0 }],
      refused: { key, limitNano: 1_000_000, spentNano: 1_000_000, reservedNano: 0 },
    });
  });

  it("settle is idempotent by call id: settled 3 times (a retried settle), counted once", async () => {
    const user = limit(`user:${uniqueId("u")}:total`, 10_000_000);
    const tenant = limit(`tenant:${uniqueId("t")}:total`, 10_000_000);
    const id = uniqueId("retried");
    await store.reserve(id, [user, tenant], 900_000, 60_000);

    const first = await store.settle(id, [user, tenant], CALL_NANO);
    const second = await store.settle(id, [user, tenant], CALL_NANO);
    const third = await Promise.all([store.settle(id, [user, tenant], CALL_NANO), store.settle(id, [user, tenant], 999)]);

    expect(first.map((s) => s.spentNano)).toEqual([CALL_NANO, CALL_NANO]);
    expect(second).toEqual(first);
    expect(third).toEqual([first, first]);
    expect(await redis.hget(`lcm:${user.key}`, "spent")).toBe(String(CALL_NANO));
    expect(await redis.hget(`lcm:${tenant.key}`, "spent")).toBe(String(CALL_NANO));
    const markerTtl = await redis.pttl(`lcm:settled:${id}`);
    expect(markerTtl).toBeGreaterThan(24 * HOUR - 60_000); // remembered for a day by default
    expect(markerTtl).toBeLessThanOrEqual(24 * HOUR);
  });

  it("reserve is atomic over two limits: when one refuses, neither holds anything", async () => {
    const user = limit(`user:${uniqueId("u")}:total`, 10_000_000);
    const tenant = limit(`tenant:${uniqueId("t")}:total`, 1_000_000);
    await store.settle("earlier", [tenant], 800_000); // the tenant has 200,000 left; the user 10,000,000

    const answer = await store.reserve("too-big", [user, tenant], 300_000, 60_000);

    expect(answer).toEqual({ refused: { key: tenant.key, limitNano: 1_000_000, spentNano: 800_000, reservedNano: 0 } });
    expect(await redis.hlen(`lcm:${user.key}:holds`)).toBe(0);
    expect(await redis.hlen(`lcm:${tenant.key}:holds`)).toBe(0);
    expect(await redis.zcard(`lcm:${user.key}:exp`)).toBe(0);
    expect((await store.check([user, tenant])).states.map((s) => s.reservedNano)).toEqual([0, 0]);

    expect(await store.reserve("fits", [user, tenant], 200_000, 60_000)).toEqual({});
    expect(await redis.hget(`lcm:${user.key}:holds`, "fits")).toBe("200000");
    expect(await redis.hget(`lcm:${tenant.key}:holds`, "fits")).toBe("200000");
  });

  it("settle and release act on every limit at once", async () => {
    const a = limit(`a:${uniqueId("x")}:total`, 5_000_000);
    const b = limit(`b:${uniqueId("x")}:total`, 5_000_000);
    await store.reserve("both", [a, b], 1_000_000, 60_000);
    await store.reserve("dropped", [a, b], 1_000_000, 60_000);

    await store.settle("both", [a, b], 123_456);
    await store.release("dropped", [a, b]);

    expect((await store.check([a, b])).states).toEqual([
      { key: a.key, limitNano: 5_000_000, spentNano: 123_456, reservedNano: 0 },
      { key: b.key, limitNano: 5_000_000, spentNano: 123_456, reservedNano: 0 },
    ]);
  });

  it("concurrent reservations from 8 connections can't all pass the same check: exactly the ones that fit hold", async () => {
    const key = `tenant:${uniqueId("race")}:total`;
    const limits = [limit(key, 10 * 100_000)];
    const stores = Array.from({ length: 8 }, () => new RedisBudgetStore({ url: redisUrl }));
    try {
      const answers = await Promise.all(
        Array.from({ length: 80 }, (_, i) => stores[i % 8]!.reserve(`race-${i}`, limits, 100_000, 60_000)),
      );
      expect(answers.filter((a) => !a.refused)).toHaveLength(10);
      expect(await redis.hlen(`lcm:${key}:holds`)).toBe(10);
      expect((await store.check(limits)).states[0]?.reservedNano).toBe(1_000_000);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it("a hold expires after its ttl: a worker that died mid-call doesn't block the tenant", async () => {
    const key = `tenant:${uniqueId("crash")}:total`;
    const limits = [limit(key, 1_000_000)];
    // A worker reserves the whole quota and dies without settling or releasing.
    expect(await store.reserve("crashed-worker-call", limits, 1_000_000, 400)).toEqual({});
    const expiry = Number(await redis.zscore(`lcm:${key}:exp`, "crashed-worker-call"));
    expect(expiry - (await store.now())).toBeGreaterThan(0);
    expect(expiry - (await store.now())).toBeLessThanOrEqual(400);

    expect((await store.reserve("other", limits, 100_000, 60_000)).refused).toMatchObject({ reservedNano: 1_000_000 });
    await new Promise((resolve) => setTimeout(resolve, 450));

    expect(await store.check(limits)).toEqual({ states: [{ key, limitNano: 1_000_000, spentNano: 0, reservedNano: 0 }] });
    expect(await store.reserve("other", limits, 100_000, 60_000)).toEqual({});
    expect(await redis.hkeys(`lcm:${key}:holds`)).toEqual(["other"]);
  });

  it("window counters, their holds and expiries get a TTL: the window's end plus an hour", async () => {
    const now = await store.now();
    const [user, org] = resolveQuotas(
      [
        { key: "user:{user_id}", limitUsd: 5, window: "day" },
        { key: "org:{org}", limitUsd: 5, window: "total" },
      ],
      { user_id: uniqueId("u"), org: uniqueId("o") },
      now,
    );
    if (!user || !org) throw new Error("no limits");
    expect(user.key).toBe(`${user.scope}:${windowAt("day", now).id}`);

    await store.reserve("pending", [user, org], 1000, 60_000);
    await store.settle("paid", [user, org], 2000);

    const expected = (user.expiresAt ?? 0) - (await store.now());
    for (const suffix of ["", ":holds", ":exp"]) {
      const ttl = await redis.pttl(`lcm:${user.key}${suffix}`);
      expect(ttl).toBeGreaterThan(0);
      expect(Math.abs(ttl - expected)).toBeLessThan(5000);
      expect(ttl).toBeGreaterThan(HOUR); // never before the window's end + the hour's grace
    }
    expect(await redis.pttl(`lcm:${org.key}`)).toBe(-1); // a "total" quota never expires
  });

  it("rolls over with Redis' clock: a new window is a new key; last window's counter stays apart", async () => {
    const tenant = uniqueId("acme");
    const quota: Quota = { key: "tenant:{tenant_id}", limitUsd: 0.0009, window: "month" };
    const now = await store.now();
    const [current] = resolveQuotas([quota], { tenant_id: tenant }, now);
    const thisMonth = windowAt("month", now);
    // The previous month's counter, spent out: as it was at the end of last month.
    const lastMonth = windowAt("month", Date.parse(thisMonth.id.slice(6) + "-01T00:00:00Z") - 1);
    await store.settle("last-month", [limit(`tenant:${tenant}:${lastMonth.id}`, 900_000, now + HOUR)], 900_000);

    expect(current?.key).toBe(`tenant:${tenant}:${thisMonth.id}`);
    expect((await store.check([current!])).refused).toBeUndefined();
    expect(await redis.hget(`lcm:tenant:${tenant}:${lastMonth.id}`, "spent")).toBe("900000");
    expect(await redis.exists(`lcm:${current!.key}`)).toBe(0);
  });

  it("writes under its own prefix", async () => {
    const prefixed = new RedisBudgetStore({ url: redisUrl, prefix: `${uniqueId("app")}:` });
    try {
      const key = `user:${uniqueId("u")}:total`;
      await prefixed.settle("p1", [limit(key, 1_000_000)], 42);
      expect(await redis.exists(`lcm:${key}`)).toBe(0);
      expect(await redis.hget(`${(prefixed as unknown as { prefix: string }).prefix}${key}`, "spent")).toBe("42");
    } finally {
      await prefixed.close();
    }
  });

  it("fails fast, within its timeout, when nothing listens at the URL", async () => {
    const dead = new RedisBudgetStore({ url: `redis://127.0.0.1:${await freePort()}`, timeoutMs: 300 });
    try {
      const started = Date.now();
      await expect(dead.check([limit("x:total", 1)])).rejects.toThrow();
      await expect(dead.now()).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await dead.close();
    }
  });
});

describeRedis("quotas shared through Redis by separate budgets", () => {
  const server = useFakeOpenAI();
  let stores: RedisBudgetStore[] = [];
  afterAll(async () => Promise.all(stores.map((s) => s.close())));
  const newStore = () => {
    const store = new RedisBudgetStore({ url: redisUrl });
    stores.push(store);
    return store;
  };

  it("two handlers on two connections share the tenant's quota; the refusal names it; nothing is sent", async () => {
    server().setDefault({ usage: USAGE });
    const tenant = uniqueId("acme");
    const quotas: Quota[] = [{ key: "tenant:{tenant_id}", limitUsd: 0.0009, window: "month" }];
    const model = meteredModel(server());
    const worker = (store: RedisBudgetStore) => new BudgetCallbackHandler({ quotas, store });
    const [a, b] = [newStore(), newStore()];

    await model.invoke("1", { callbacks: [worker(a)], metadata: { tenant_id: tenant } });
    await model.invoke("2", { callbacks: [worker(b)], metadata: { tenant_id: tenant } });
    const refused = await rejectionOf(model.invoke("3", { callbacks: [worker(a)], metadata: { tenant_id: tenant } }));

    expect(refused).toMatchObject({ scope: `tenant:${tenant}`, stop: "refused", spentUsd: 0.0009, limitUsd: 0.0009 });
    expect(server().requests).toHaveLength(2);
    const key = `lcm:tenant:${tenant}:${windowAt("month", await a.now()).id}`;
    const redis = a.client;
    expect(await redis.hget(key, "spent")).toBe(String(2 * CALL_NANO));
  });

  it("a model's per-run budget adopts a RedisBudgetStore (budget: { quotas, store })", async () => {
    server().setDefault({ usage: USAGE });
    const store = newStore();
    const user = uniqueId("u");
    const model = meteredModel(server(), { budget: { quotas: [{ key: "user:{user_id}", limitUsd: 5, window: "day" }], store } });

    await model.invoke("1", { metadata: { user_id: user } });
    await model.invoke("2", { metadata: { user_id: user } });

    expect(await store.client.hget(`lcm:user:${user}:${windowAt("day", await store.now()).id}`, "spent")).toBe(String(2 * CALL_NANO));
  });
});

describe("RedisBudgetStore without a server", () => {
  it("needs no Redis to be constructed and closed", async () => {
    const store = new RedisBudgetStore({ url: `redis://127.0.0.1:${await freePort()}`, timeoutMs: 200 });
    await store.close();
    expect(store.client.status).toMatch(/end|close|connecting|wait|reconnecting/);
  });
});
