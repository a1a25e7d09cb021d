/**
 * RedisBudgetStore against a real redis-server (the run's, from test/support/redis-global-setup.ts), beyond
 * the store contract (test/integrations/redis-store.test.ts runs test/budget/store-contract.ts against it):
 * Redis' clock as the store's, what a refused reserve leaves in Redis, many connections racing for one
 * limit, expired holds charged by Redis' clock, counters that expire with their quota's window, prefixes,
 * failing fast; and budgets (handlers, models) sharing a quota through it.
 *
 * Ported from 0.1.0. Removed, because the contract suite covers every assertion they made:
 * - "check, reserve, settle and release: exact states, and the counter is HGET lcm:<key> spent": the
 *   contract's check / reserve / settle / release groups (exact states, refusals naming the limit, spent >=
 *   limit refuses, holds don't count in check), and redis-store.test.ts "keeps a limit in K, K:holds, ..."
 *   (`HGETALL lcm:<key>` is `{ spent }`, no hold left);
 * - "settle is idempotent by call id: settled 3 times": the contract's "counts once: a second settle ..."
 *   and "counts once when the same settle arrives many times at once" (two connections), and
 *   redis-store.test.ts's marker TTL of 24 h;
 * - "settle and release act on every limit at once": the contract's "replaces the call's hold with its cost
 *   in every limit" and "drops the call's hold in every limit, and only its own".
 *
 * Each test uses keys no other test shares, so suites running side by side never meet.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BudgetCallbackHandler, type BudgetStore, type MeterEntry, type MeterSink, type Quota, type StoreLimit } from "../../src/index.js";
import { RedisBudgetStore } from "../../src/integrations/redis.js";
import { resolveQuotas } from "../../src/budget/quotas.js";
import { windowAt } from "../../src/budget/windows.js";
import { CALL_NANO, meteredModel, rejectionOf, USAGE, useFakeOpenAI } from "../budget/helpers.js";
import { freePort } from "../support/redis-server.js";
import { lastLines } from "../support/redis-ledger.js";
import { describeRedis, redisUrl, uniqueId } from "../support/redis.js";

const HOUR = 3_600_000;

/** `store`, with `race()` run before the first reserve of each call: another worker taking the room first. */
function racedStore(store: BudgetStore, race: (limits: readonly StoreLimit[]) => Promise<unknown>): BudgetStore {
  const raced = new Set<string>();
  return {
    now: () => store.now(),
    check: (limits) => store.check(limits),
    settle: (callId, limits, cost) => store.settle(callId, limits, cost),
    release: (callId, limits) => store.release(callId, limits),
    async reserve(callId, limits, amount, ttlMs) {
      if (!raced.has(callId)) {
        raced.add(callId);
        await race(limits);
      }
      return store.reserve(callId, limits, amount, ttlMs);
    },
  };
}

/** A metering log in memory. */
class MemorySink implements MeterSink {
  readonly lines: MeterEntry[] = [];
  write(entry: MeterEntry): void {
    this.lines.push(entry);
  }
}
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

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

  it("a reserve refused by one limit writes nothing in Redis, in any of the call's limits", async () => {
    // (The contract checks the states: all or nothing. This checks Redis itself: no key is even created.)
    const user = limit(`user:${uniqueId("u")}:total`, 10_000_000);
    const tenant = limit(`tenant:${uniqueId("t")}:total`, 1_000_000);
    await store.settle(uniqueId("earlier"), [tenant], 800_000); // the tenant has 200,000 left; the user 10,000,000

    const answer = await store.reserve(uniqueId("too-big"), [user, tenant], 300_000, 60_000);

    // 0.1.0 answered `{ refused }` alone; reserve now also answers the states the refusal was decided on.
    expect(answer).toEqual({
      states: [
        { key: user.key, limitNano: 10_000_000, spentNano: 0, reservedNano: 0 },
        { key: tenant.key, limitNano: 1_000_000, spentNano: 800_000, reservedNano: 0 },
      ],
      refused: { key: tenant.key, limitNano: 1_000_000, spentNano: 800_000, reservedNano: 0 },
    });
    for (const suffix of ["", ":holds", ":exp", ":expired", ":expired:at"]) expect(await redis.exists(`lcm:${user.key}${suffix}`)).toBe(0);
    expect(await redis.hlen(`lcm:${tenant.key}:holds`)).toBe(0);
    expect(await redis.zcard(`lcm:${tenant.key}:exp`)).toBe(0);

    const fits = uniqueId("fits");
    expect((await store.reserve(fits, [user, tenant], 200_000, 60_000)).refused).toBeUndefined();
    expect(await redis.hget(`lcm:${user.key}:holds`, fits)).toBe("200000");
    expect(await redis.hget(`lcm:${tenant.key}:holds`, fits)).toBe("200000");
  });

  it("concurrent reservations from 8 connections can't all pass the same check: exactly the ones that fit hold", async () => {
    const key = `tenant:${uniqueId("race")}:total`;
    const limits = [limit(key, 10 * 100_000)];
    const stores = Array.from({ length: 8 }, () => new RedisBudgetStore({ url: redisUrl }));
    try {
      const answers = await Promise.all(
        Array.from({ length: 80 }, (_, i) => stores[i % 8]!.reserve(`${key}-race-${i}`, limits, 100_000, 60_000)),
      );
      expect(answers.filter((a) => !a.refused)).toHaveLength(10);
      expect(await redis.hlen(`lcm:${key}:holds`)).toBe(10);
      expect((await store.check(limits)).states[0]?.reservedNano).toBe(1_000_000);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it("a hold that outlives its ttl (a worker that died mid-call) is charged at its full amount, by Redis' clock", async () => {
    const key = `tenant:${uniqueId("crash")}:total`;
    const limits = [limit(key, 1_000_000)];
    const dead = uniqueId("crashed-worker-call");
    // A worker reserves the whole quota and dies without settling or releasing.
    expect(await store.reserve(dead, limits, 1_000_000, 400)).toEqual({ states: [{ key, limitNano: 1_000_000, spentNano: 0, reservedNano: 1_000_000 }] });
    const expiry = Number(await redis.zscore(`lcm:${key}:exp`, dead)); // Redis' clock
    expect(expiry - (await store.now())).toBeGreaterThan(0);
    // store.now() is Redis' clock read through this process's (an offset measured at the midpoint of two
    // readings, to the millisecond): it may trail Redis by a millisecond or two (401 seen in CI on Node 22).
    expect(expiry - (await store.now())).toBeLessThanOrEqual(402);

    // While it lives, it is held money: a call that doesn't fit beside it is refused, naming the hold.
    expect((await store.reserve(uniqueId("other"), limits, 100_000, 60_000)).refused).toMatchObject({ spentNano: 0, reservedNano: 1_000_000 });
    while ((await store.now()) <= expiry) await sleep(25);

    // 0.1.0 freed the tenant here, as if the dead worker's call had cost nothing: a worker that crashed
    // mid-call was never charged. Now its hold is charged at its worst case (a late settle or release would
    // still correct it), so the tenant is spent: check refuses, and the refusal names spent money, not held.
    expect(await store.check(limits)).toEqual({
      states: [{ key, limitNano: 1_000_000, spentNano: 1_000_000, reservedNano: 0 }],
      refused: { key, limitNano: 1_000_000, spentNano: 1_000_000, reservedNano: 0 },
    });
    expect(await redis.hget(`lcm:${key}:expired`, dead)).toBe("1000000");
    expect(await redis.hlen(`lcm:${key}:holds`)).toBe(0);
    expect((await store.reserve(uniqueId("other"), limits, 100_000, 60_000)).refused).toMatchObject({ spentNano: 1_000_000, reservedNano: 0 });
  });

  it("window counters, their holds and expiries get a TTL: the window's end plus an hour", async () => {
    const now = await store.now();
    const [user, org] = await resolveQuotas(
      [
        { key: "user:{user_id}", limitUsd: 5, window: "day" },
        { key: "org:{org}", limitUsd: 5, window: "total" },
      ],
      { user_id: uniqueId("u"), org: uniqueId("o") },
      now,
    );
    if (!user || !org) throw new Error("no limits");
    expect(user.key).toBe(`${user.scope}:${windowAt("day", now).id}`);

    await store.reserve(uniqueId("pending"), [user, org], 1000, 60_000);
    await store.settle(uniqueId("paid"), [user, org], 2000);

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
    const [current] = await resolveQuotas([quota], { tenant_id: tenant }, now);
    const thisMonth = windowAt("month", now);
    // The previous month's counter, spent out: as it was at the end of last month.
    const lastMonth = windowAt("month", Date.parse(thisMonth.id.slice(6) + "-01T00:00:00Z") - 1);
    await store.settle(uniqueId("last-month"), [limit(`tenant:${tenant}:${lastMonth.id}`, 900_000, now + HOUR)], 900_000);

    expect(current?.key).toBe(`tenant:${tenant}:${thisMonth.id}`);
    expect((await store.check([current!])).refused).toBeUndefined();
    expect(await redis.hget(`lcm:tenant:${tenant}:${lastMonth.id}`, "spent")).toBe("900000");
    expect(await redis.exists(`lcm:${current!.key}`)).toBe(0);
  });

  it("writes under its own prefix", async () => {
    const prefixed = new RedisBudgetStore({ url: redisUrl, prefix: `${uniqueId("app")}:` });
    try {
      const key = `user:${uniqueId("u")}:total`;
      await prefixed.settle(uniqueId("p1"), [limit(key, 1_000_000)], 42);
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
  it("a hard-capped call that doesn't fit beside another worker's hold waits for it, polling Redis, then goes", async () => {
    server().setDefault({ usage: USAGE });
    const store = newStore();
    const tenant = uniqueId("wait");
    const quotas: Quota[] = [{ key: "tenant:{tenant_id}", limitUsd: 0.02, window: "total" }];
    const limits = [{ key: `tenant:${tenant}:total`, limitNano: 20_000_000 }];
    // Another worker holds all but $0.000001 of the $0.02: not even a short answer fits beside it (a call that
    // can pay for some of its answer is clamped instead), but this call's worst case (16,384 tokens out,
    // ~$0.0098) fits once the hold ends.
    const other = uniqueId("other-worker");
    await store.reserve(other, limits, 19_999_000, 60_000);
    const sink = new MemorySink();
    const model = meteredModel(server(), { budget: { hardCap: true, quotas, store, meter: sink, holdWaitMs: 10_000 } });

    const call = model.invoke("hi", { metadata: { tenant_id: tenant } });
    await sleep(150);
    expect(server().requests).toHaveLength(0); // waiting, not refused
    await store.settle(other, limits, 3_000_000); // the other worker's call ends far below its worst case
    await call;

    expect(server().requests).toHaveLength(1);
    // Not clamped to the room left beside the hold: its whole worst case fit once the hold ended.
    expect(server().requests[0]?.body.max_tokens).toBe(16_384);
    expect(sink.lines.at(-1)?.decision).toBe("allowed");
    expect(new Set(sink.lines.slice(0, -1).map((line) => line.decision))).toEqual(new Set(["held"])); // one per attempt
    expect((await store.check(limits)).states[0]).toMatchObject({ spentNano: 3_000_000 + CALL_NANO, reservedNano: 0 });
  });

  it("a hard-capped call waiting for room is refused at holdWaitMs, naming what was held", async () => {
    server().setDefault({ usage: USAGE });
    const store = newStore();
    const tenant = uniqueId("wait");
    const quotas: Quota[] = [{ key: "tenant:{tenant_id}", limitUsd: 0.02, window: "total" }];
    const limits = [{ key: `tenant:${tenant}:total`, limitNano: 20_000_000 }];
    await store.reserve(uniqueId("other-worker"), limits, 19_999_000, 60_000);
    const sink = new MemorySink();
    const model = meteredModel(server(), { budget: { hardCap: true, quotas, store, meter: sink, holdWaitMs: 300 } });

    const started = Date.now();
    const refused = await rejectionOf(model.invoke("hi", { metadata: { tenant_id: tenant } }));

    expect(refused).toMatchObject({ stop: "refused", scope: `tenant:${tenant}`, heldUsd: 0.019999, spentUsd: 0 });
    expect((refused as Error).message).toMatch(/held by calls in flight.*; it waited 0\.[3-9] s for them to end/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(server().requests).toHaveLength(0);
    expect(sink.lines).toEqual([]); // it never tried to hold: the room it read was too small
  });

  it("a call whose hold lost a race for the room (the store refused it) ends its log on $0 however its wait ends", async () => {
    server().setDefault({ usage: USAGE });
    const inner = newStore();
    const [refusedTenant, abortedTenant] = [uniqueId("race"), uniqueId("race")];
    const quotas: Quota[] = [{ key: "tenant:{tenant_id}", limitUsd: 0.02, window: "total" }];
    const limitsOf = (tenant: string) => [{ key: `tenant:${tenant}:total`, limitNano: 20_000_000 }];
    // Another worker takes the room between each call's check and its hold: the store refuses the hold,
    // after the call wrote its "held" line (the log hears of a hold before the store does).
    const store = racedStore(inner, (limits) => inner.reserve(uniqueId("other-worker"), limits, 19_999_000, 60_000));
    const sink = new MemorySink();
    const model = (holdWaitMs: number) => meteredModel(server(), { budget: { hardCap: true, quotas, store, meter: sink, holdWaitMs } });

    // Refused once holdWaitMs is over.
    expect(await rejectionOf(model(200).invoke("hi", { metadata: { tenant_id: refusedTenant } }))).toMatchObject({ stop: "refused" });
    // Its caller gives up while it waits.
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("caller gave up")), 150);
    const aborted = await rejectionOf(model(10_000).invoke("hi", { metadata: { tenant_id: abortedTenant }, signal: controller.signal }));
    expect(String(aborted)).toContain("caller gave up");

    expect(server().requests).toHaveLength(0);
    // Neither holds anything in Redis (the other worker's holds are all there is), so each call's last line
    // must be $0: a log that ends on "held" bills a call that was never sent.
    for (const tenant of [refusedTenant, abortedTenant]) {
      expect((await inner.check(limitsOf(tenant))).states[0]).toMatchObject({ spentNano: 0, reservedNano: 19_999_000 });
    }
    const last = [...lastLines(sink.lines).values()];
    expect(sink.lines.filter((line) => line.decision === "held")).toHaveLength(2);
    expect(last.map((line) => [line.decision, line.costNanoUsd])).toEqual([["refused", 0], ["released", 0]]);
  });

  it("a call whose hold lost a race to spent money (another worker's call settled) plans again for what is left, rather than being refused as spent", async () => {
    server().setDefault((request) => ({ usage: { promptTokens: 8, completionTokens: Math.min(500, request.body.max_tokens ?? 500) } }));
    const inner = newStore();
    const tenant = uniqueId("spent-race");
    const quotas: Quota[] = [{ key: "tenant:{tenant_id}", limitUsd: 0.02, window: "total" }];
    const limits = [{ key: `tenant:${tenant}:total`, limitNano: 20_000_000 }];
    // The call reads $0.02 of room and plans its whole worst case (~$0.0098); before its hold reaches Redis,
    // another worker's call settles $0.015: the hold no longer fits, and nothing is held that could free up.
    const store = racedStore(inner, () => inner.settle(uniqueId("other-worker"), limits, 15_000_000));
    const sink = new MemorySink();
    const model = meteredModel(server(), { budget: { hardCap: true, quotas, store, meter: sink, holdWaitMs: 5000 } });

    // $0.005 is left: enough for a clamped answer (8,322 tokens), so the call goes, clamped, not refused as "spent".
    await model.invoke("hi", { metadata: { tenant_id: tenant } });

    expect(server().requests).toHaveLength(1);
    expect(server().requests[0]?.body.max_tokens).toBe(Math.floor((5_000_000 - 41 * 150) / 600));
    expect(sink.lines.at(-1)?.decision).toBe("clamped");
    expect((await inner.check(limits)).states[0]).toMatchObject({ spentNano: 15_000_000 + 8 * 150 + 500 * 600, reservedNano: 0 });
  });
});

describe("RedisBudgetStore without a server", () => {
  it("needs no Redis to be constructed and closed", async () => {
    const store = new RedisBudgetStore({ url: `redis://127.0.0.1:${await freePort()}`, timeoutMs: 200 });
    await store.close();
    expect(store.client.status).toMatch(/end|close|connecting|wait|reconnecting/);
  });
});
