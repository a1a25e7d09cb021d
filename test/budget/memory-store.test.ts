/**
 * InMemoryBudgetStore: the store contract under a fake clock, and what is its own: bounded memory (ended call
 * ids, expired holds' charges, counters of ended windows).
 */
import { describe, expect, it } from "vitest";
import { InMemoryBudgetStore } from "../../src/budget/memory-store.js";
import type { StoreLimit } from "../../src/budget/store.js";
import { describeStoreContract } from "./store-contract.js";

const START = Date.UTC(2026, 10, 28, 15);

function fakeClock(start = START) {
  let now = start;
  return { clock: () => now, advance: (ms: number) => void (now += ms) };
}

describeStoreContract("InMemoryBudgetStore", () => {
  const time = fakeClock();
  return {
    store: new InMemoryBudgetStore({ clock: time.clock }),
    advance: async (ms) => time.advance(ms),
    shortTtlMs: 1000,
  };
});

describe("InMemoryBudgetStore memory", () => {
  const limits: StoreLimit[] = [{ key: "tenant:acme:total", limitNano: Number.MAX_SAFE_INTEGER }];

  it("after 200k settles, remembers at most maxRememberedCalls call ids (the default, 100,000)", async () => {
    const time = fakeClock();
    const store = new InMemoryBudgetStore({ clock: time.clock });
    for (let i = 0; i < 200_000; i++) {
      await store.settle(`call-${i}`, limits, 1);
      time.advance(1);
    }
    expect(store.rememberedCalls).toBeLessThanOrEqual(100_000);
    expect(store.rememberedCalls).toBeGreaterThan(99_000); // it forgets the oldest, not everything
    expect((await store.check(limits)).states[0]?.spentNano).toBe(200_000);
  });

  it("forgets the oldest ids first: a recent retry still counts once, a forgotten one counts again", async () => {
    const store = new InMemoryBudgetStore({ clock: fakeClock().clock, maxRememberedCalls: 1000 });
    for (let i = 0; i < 2000; i++) await store.settle(`call-${i}`, limits, 1);
    expect(store.rememberedCalls).toBe(1000);

    await store.settle("call-1999", limits, 1); // remembered: counts nothing
    await store.settle("call-1000", limits, 1); // the oldest remembered: counts nothing
    expect((await store.check(limits)).states[0]?.spentNano).toBe(2000);
    await store.settle("call-0", limits, 1); // forgotten long ago: counts again
    expect((await store.check(limits)).states[0]?.spentNano).toBe(2001);
  });

  it("forgets ended ids after settledTtlMs", async () => {
    const time = fakeClock();
    const store = new InMemoryBudgetStore({ clock: time.clock, settledTtlMs: 60_000 });
    await store.settle("old", limits, 5);
    time.advance(30_000);
    await store.settle("recent", limits, 5);
    await store.settle("old", limits, 5); // still remembered
    time.advance(30_001);
    await store.settle("newest", limits, 5);

    expect(store.rememberedCalls).toBe(2); // "old" (60,001 ms ago) went when "newest" came
    await store.settle("old", limits, 5);
    expect((await store.check(limits)).states[0]?.spentNano).toBe(20);
  });

  it("keeps an expired hold's charge no longer than ended ids: a settle after settledTtlMs counts on top", async () => {
    const time = fakeClock();
    const store = new InMemoryBudgetStore({ clock: time.clock, settledTtlMs: 60_000 });
    await store.reserve("slow", limits, 700, 1000);
    time.advance(1000);
    expect((await store.check(limits)).states[0]?.spentNano).toBe(700);
    time.advance(60_000);
    expect(await store.settle("slow", limits, 300)).toEqual([expect.objectContaining({ spentNano: 1000 })]);
  });

  it("drops the counters of ended windows", async () => {
    const time = fakeClock();
    const store = new InMemoryBudgetStore({ clock: time.clock });
    const counters = (store as unknown as { counters: Map<string, unknown> }).counters;
    for (let day = 0; day < 10; day++) {
      await store.settle(`d${day}`, [{ key: `user:u:day:${day}`, limitNano: 1000, expiresAt: START + (day + 1) * 86_400_000 }], 1);
    }
    time.advance(20 * 86_400_000);
    for (let i = 0; i < 2048; i++) await store.check([{ key: "user:u:total", limitNano: 1000 }]);
    expect([...counters.keys()]).toEqual(["user:u:total"]);
  });

  it("rejects options it can't work with", () => {
    expect(() => new InMemoryBudgetStore({ maxRememberedCalls: 0 })).toThrow(/maxRememberedCalls: Expected a whole number ≥ 1, got 0/);
    expect(() => new InMemoryBudgetStore({ settledTtlMs: -5 })).toThrow(/settledTtlMs/);
  });
});
