/**
 * RedisBudgetStore on a real Redis Cluster (the run's: 3 primaries, 3 replicas, started by the global setup):
 * the store contract, then what is the cluster's own: a call's limits in different slots (0.1.0 refused every
 * such call with CROSSSLOT), each limit's keys in one slot, the limit-by-limit reserve composed all or
 * nothing (undo puts back what the call had), concurrent workers never over any limit, writes confirmed by
 * a replica, and the options.
 */
import { randomUUID } from "node:crypto";
import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { StoreLimit } from "../../src/budget/store.js";
import { BudgetCallbackHandler, MeteredChatModel } from "../../src/index.js";
import { RedisBudgetStore } from "../../src/integrations/redis.js";
import { describeStoreContract } from "../budget/store-contract.js";
import { type FakeOpenAI, startFakeOpenAI } from "../support/openai-server.js";
import { describeRedis, liveRedisUnderTest, redisClusterNodes, uniqueId } from "../support/redis.js";
import { seeded } from "../support/seeded.js";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const LONG_TTL = 60_000;

describeRedis("RedisBudgetStore on a Redis Cluster (contract)", () => {
  describeStoreContract("RedisBudgetStore on a Redis Cluster", () => {
    const prefix = `${uniqueId("contract")}:`;
    return liveRedisUnderTest(new RedisBudgetStore({ cluster: redisClusterNodes, prefix }), new RedisBudgetStore({ client: new Cluster(redisClusterNodes), prefix }));
  });
});

describeRedis("RedisBudgetStore on a Redis Cluster", () => {
  let stores: RedisBudgetStore[];
  let store: RedisBudgetStore;
  let admin: Cluster;
  beforeAll(() => {
    stores = [0, 1, 2].map(() => new RedisBudgetStore({ cluster: redisClusterNodes }));
    store = stores[0]!;
    admin = new Cluster(redisClusterNodes);
  });
  afterAll(async () => {
    await Promise.all(stores?.map((s) => s.close()) ?? []);
    admin?.disconnect();
  });

  /** Limits for a user and a tenant, whose keys fall in different slots (checked). */
  const userAndTenant = async (userLimit: number, tenantLimit: number): Promise<[StoreLimit, StoreLimit]> => {
    const run = randomUUID();
    const user = { key: `user:u1-${run}:day:2026-12-01`, limitNano: userLimit };
    const tenant = { key: `tenant:acme-${run}:month:2026-12`, limitNano: tenantLimit };
    expect(await slot(`lcm:{${user.key}}`)).not.toBe(await slot(`lcm:{${tenant.key}}`));
    return [user, tenant];
  };
  const slot = (key: string) => admin.cluster("KEYSLOT", key);
  const figures = async (...limits: StoreLimit[]) => (await store.check(limits)).states.map((s) => [s.spentNano, s.reservedNano]);

  it("keeps each limit's keys (counter, holds, expiries, charges, ended calls) in one slot, under the limit's hash tag", async () => {
    const [user, tenant] = await userAndTenant(10_000, 10_000);
    const [paid, held, expired] = [uniqueId("paid"), uniqueId("held"), uniqueId("expired")];
    await store.settle(paid, [user, tenant], 300);
    await store.reserve(held, [user, tenant], 500, LONG_TTL);
    await store.reserve(expired, [user, tenant], 200, 50);
    await sleep(120);
    await store.check([user, tenant]);

    for (const limit of [user, tenant]) {
      const base = `lcm:{${limit.key}}`;
      expect(await admin.hget(base, "spent")).toBe("500"); // 300 paid + 200 charged when its hold expired
      expect(await admin.hget(`${base}:holds`, held)).toBe("500");
      expect(await admin.zscore(`${base}:exp`, held)).not.toBeNull();
      expect(await admin.hget(`${base}:expired`, expired)).toBe("200");
      expect(await admin.zscore(`${base}:expired:at`, expired)).not.toBeNull();
      expect(await admin.get(`${base}:ended:${paid}`)).toBe("settled");
      const slots = await Promise.all(["", ":holds", ":exp", ":expired", ":expired:at", `:ended:${paid}`].map((suffix) => slot(`${base}${suffix}`)));
      expect(new Set(slots).size).toBe(1);
    }
  });

  it("meters a model call with a user's and a tenant's quota, which live in different slots (0.1.0: CROSSSLOT, every call refused)", async () => {
    const server: FakeOpenAI = await startFakeOpenAI();
    try {
      server.setDefault(() => ({ usage: { promptTokens: 1000, completionTokens: 500 }, content: "ok" }));
      const [user, tenant] = [uniqueId("u"), uniqueId("acme")];
      const quotas = [
        { key: "user:{user_id}", limitUsd: 1, window: "day" as const },
        { key: "tenant:{tenant_id}", limitUsd: 5, window: "month" as const },
      ];
      const model = new MeteredChatModel({ model: "gpt-4o-mini", apiKey: "sk-test", maxRetries: 0, configuration: { baseURL: server.url } });
      const metadata = { user_id: user, tenant_id: tenant };
      for (let i = 0; i < 3; i++) {
        await model.invoke("hi", { metadata, callbacks: [new BudgetCallbackHandler({ hardCap: true, quotas, store })] });
      }
      const status = await new BudgetCallbackHandler({ quotas, store }).quotaStatus(metadata);
      // 1000 × $0.15/M + 500 × $0.60/M = $0.00045 per call, in both quotas.
      expect(status.map((s) => [s.key, s.spentUsd, s.heldUsd])).toEqual([
        [`user:${user}`, 0.00135, 0],
        [`tenant:${tenant}`, 0.00135, 0],
      ]);
      expect(server.requests).toHaveLength(3);
    } finally {
      await server.close();
    }
  });

  it("is all or nothing across slots: a refusal in a later slot undoes the earlier holds and names the first limit in the caller's order", async () => {
    const [user, tenant] = await userAndTenant(1000, 500);
    // Reserved in key order (tenant:… before user:…), whatever the caller's order.
    const refused = await store.reserve(uniqueId("big"), [user, tenant], 600, LONG_TTL);
    expect(refused.refused?.key).toBe(tenant.key);
    expect(refused.states.map((s) => [s.spentNano, s.reservedNano])).toEqual([[0, 0], [0, 0]]);
    // The user limit refuses in turn once it is short, though it is reserved second: the probe names it.
    await store.settle(uniqueId("paid"), [user], 900);
    const both = await store.reserve(uniqueId("both"), [user, tenant], 600, LONG_TTL);
    expect(both.refused?.key).toBe(user.key);
    const reversed = await store.reserve(uniqueId("both"), [tenant, user], 600, LONG_TTL);
    expect(reversed.refused?.key).toBe(tenant.key);
    expect(await figures(user, tenant)).toEqual([[900, 0], [0, 0]]);
  });

  it("undo gives a call back exactly what it had: its earlier hold, or the charge of its expired hold", async () => {
    const [user, tenant] = await userAndTenant(10_000, 1000);
    const [holding, expired] = [uniqueId("holding"), uniqueId("expired")];
    await store.reserve(holding, [user, tenant], 300, LONG_TTL);
    await store.reserve(expired, [user, tenant], 200, 50);
    await sleep(120);
    expect(await figures(user, tenant)).toEqual([[200, 300], [200, 300]]);

    // Each asks for more than the tenant has room for: refused, and undone in the user's slot.
    expect((await store.reserve(holding, [user, tenant], 900, LONG_TTL)).refused?.key).toBe(tenant.key);
    expect((await store.reserve(expired, [user, tenant], 900, LONG_TTL)).refused?.key).toBe(tenant.key);
    expect(await figures(user, tenant)).toEqual([[200, 300], [200, 300]]);
    // Still theirs to end: the hold settles, the charge is replaced by the cost.
    await store.settle(holding, [user, tenant], 250);
    await store.settle(expired, [user, tenant], 150);
    expect(await figures(user, tenant)).toEqual([[400, 0], [400, 0]]);
  });

  it("a settle that reached one slot only is completed by its retry, and counts once in each", async () => {
    const [user, tenant] = await userAndTenant(10_000, 10_000);
    const call = uniqueId("partial");
    await store.reserve(call, [user, tenant], 900, LONG_TTL);
    await store.settle(call, [tenant], 450); // as if the user's slot had been down for the first attempt
    expect(await figures(user, tenant)).toEqual([[0, 900], [450, 0]]);
    await store.settle(call, [user, tenant], 450);
    await store.settle(call, [user, tenant], 450);
    expect(await figures(user, tenant)).toEqual([[450, 0], [450, 0]]);
  });

  it("300 concurrent calls from 3 workers over 3 limits in different slots never over-commit any, and end with every cost counted once", async () => {
    const run = randomUUID();
    const limits: StoreLimit[] = [
      { key: `user:a-${run}`, limitNano: 60_000 },
      { key: `user:b-${run}`, limitNano: 60_000 },
      { key: `tenant:t-${run}`, limitNano: 100_000 },
    ];
    const random = seeded(7);
    const calls = Array.from({ length: 300 }, (_, i) => {
      const user = limits[i % 2]!;
      // The caller's order varies: tenant first or last.
      const own = random() < 0.5 ? [user, limits[2]!] : [limits[2]!, user];
      return { id: `${run}-${i}`, limits: own, amount: 500 + Math.floor(random() * 1500), cost: 100 + Math.floor(random() * 400) };
    });
    let peak = [0, 0, 0];
    const watch = setInterval(() => {
      void store.check(limits).then(({ states }) => {
        peak = states.map((s, i) => Math.max(peak[i]!, s.spentNano + s.reservedNano));
      });
    }, 5);
    const outcomes = await Promise.all(
      calls.map(async (call, i) => {
        const worker = stores[i % 3]!;
        const { refused } = await worker.reserve(call.id, call.limits, call.amount, LONG_TTL);
        if (refused) return 0;
        await sleep(random() * 10);
        await worker.settle(call.id, call.limits, call.cost);
        return call.cost;
      }),
    );
    clearInterval(watch);
    const final = await store.check(limits);
    const spentBy = (limit: StoreLimit) => calls.reduce((sum, call, i) => sum + (call.limits.includes(limit) ? outcomes[i]! : 0), 0);
    expect(final.states.map((s) => [s.spentNano, s.reservedNano])).toEqual(limits.map((l) => [spentBy(l), 0]));
    expect(outcomes.filter((cost) => cost === 0).length).toBeGreaterThan(0); // contention did refuse some
    limits.forEach((limit, i) => expect(peak[i]).toBeLessThanOrEqual(limit.limitNano));
  });

  it("each hold and settlement is on a replica before the store answers (waitForReplicas, 1 by default on a cluster)", async () => {
    const [user, tenant] = await userAndTenant(10_000, 10_000);
    const call = uniqueId("replicated");
    await store.reserve(call, [user, tenant], 700, LONG_TTL);
    // Read from the replicas, with no wait of the test's own.
    const replicaRead = new Cluster(redisClusterNodes, { scaleReads: "slave" });
    try {
      expect(await replicaRead.hget(`lcm:{${tenant.key}}:holds`, call)).toBe("700");
      await store.settle(call, [user, tenant], 321);
      expect(await replicaRead.hget(`lcm:{${user.key}}`, "spent")).toBe("321");
      expect(await replicaRead.hget(`lcm:{${tenant.key}}`, "spent")).toBe("321");
    } finally {
      replicaRead.disconnect();
    }
  });

  it("asked for more replicas than answer, it goes on after 100 ms, warns once, and stops waiting on that primary for a while", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const greedy = new RedisBudgetStore({ cluster: redisClusterNodes, waitForReplicas: 3 });
    try {
      const [user] = await userAndTenant(10_000, 10_000);
      const started = Date.now();
      await greedy.settle(uniqueId("a"), [user], 10);
      expect(Date.now() - started).toBeGreaterThanOrEqual(95); // Redis' WAIT ran out (100 ms by Redis' clock)
      await greedy.settle(uniqueId("b"), [user], 10);
      expect(await figures(user)).toEqual([[20, 0]]);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]?.[0])).toMatch(/asked 3 replica\(s\).*and 1 did within 100 ms.*waitForReplicas: 0/);
    } finally {
      warn.mockRestore();
      await greedy.close();
    }
  });

  describe("options", () => {
    it("takes the cluster's nodes as `cluster`, or an ioredis Cluster as `client`, and says when `url` and `cluster` are both given", async () => {
      const mine = new Cluster(redisClusterNodes);
      const byClient = new RedisBudgetStore({ client: mine });
      try {
        const [user, tenant] = await userAndTenant(1000, 1000);
        await byClient.settle(uniqueId("c"), [user, tenant], 5);
        expect(await figures(user, tenant)).toEqual([[5, 0], [5, 0]]);
        expect(byClient.client).toBe(mine);
      } finally {
        await byClient.close();
      }
      expect(() => new RedisBudgetStore({ url: "redis://127.0.0.1:1", cluster: redisClusterNodes })).toThrow(
        /RedisBudgetStore.*cluster.*Give either `url` \(one Redis\) or `cluster`/s,
      );
      expect(() => new RedisBudgetStore({ cluster: [{ host: "127.0.0.1", port: 70_000 }] })).toThrow(/cluster\[0\]\.port/);
      expect(() => new RedisBudgetStore({ cluster: [{ host: "127.0.0.1", prot: 7000 } as never] })).toThrow(/prot/);
      expect(() => new RedisBudgetStore({ waitForReplicas: -1 })).toThrow(/waitForReplicas/);
    });

    it("refuses a quota key that can't be a hash tag (starting with '}'), saying what to do", async () => {
      await expect(store.check([{ key: "}odd", limitNano: 1 }])).rejects.toThrow(/starts with "}".*Start the quota's key with a fixed name/);
    });
  });

  it("one Redis (not a cluster) keeps its key layout: no hash tags, one marker per call", async () => {
    // The single-node layout is unchanged from 0.1.0, so counters survive an upgrade.
    const { redisUrl } = await import("../support/redis.js");
    const single = new RedisBudgetStore({ url: redisUrl });
    const raw = new Redis(redisUrl);
    try {
      const key = `tenant:${uniqueId("acme")}:month:2026-12`;
      const call = uniqueId("single");
      await single.settle(call, [{ key, limitNano: 1000 }], 42);
      expect(await raw.hget(`lcm:${key}`, "spent")).toBe("42");
      expect(await raw.get(`lcm:settled:${call}`)).toBe("settled");
    } finally {
      await single.close();
      raw.disconnect();
    }
  });
});
