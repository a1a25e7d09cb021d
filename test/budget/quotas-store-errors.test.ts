/**
 * The failure policy when a quota store can't answer, with a store the test breaks and mends at will (the
 * same against a real Redis is in test/integrations/redis-outage.test.ts): budgets fail closed by default
 * (`BudgetStoreUnavailableError`, nothing sent); `onStoreError: "allow"` meters locally and warns once per
 * outage, however many runs meet it.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  BudgetCallbackHandler,
  type BudgetStore,
  BudgetStoreUnavailableError,
  InMemoryBudgetStore,
  pendingStoreEnds,
  type Quota,
} from "../../src/index.js";
import { storeGuard } from "../../src/budget/store-guard.js";
import { CALL_NANO, meteredModel, rejectionOf, USAGE, useFakeOpenAI } from "./helpers.js";

const server = useFakeOpenAI();
afterEach(() => vi.restoreAllMocks());

const NOW = Date.parse("2026-11-28T15:00:00Z");
const QUOTAS: Quota[] = [{ key: "tenant:{tenant_id}", limitUsd: 1, window: "month" }];
const META = { tenant_id: "acme" };
const KEY = "tenant:acme:month:2026-11";

/** An InMemoryBudgetStore that throws from chosen operations while `down` is set. */
class FlakyStore implements BudgetStore {
  readonly inner = new InMemoryBudgetStore({ clock: () => NOW });
  down = false;
  /** Operations that fail while down (default: all). */
  failing = new Set(["now", "check", "reserve", "settle", "release"]);
  /** A reserve that fails while down still lands first (a reply lost on its way back, a timeout). */
  reserveLands = false;
  calls: string[] = [];

  private gate(op: string): void {
    this.calls.push(op);
    if (this.down && this.failing.has(op)) throw new Error(`store down (${op})`);
  }
  async now() {
    this.gate("now");
    return this.inner.now();
  }
  async check(...args: Parameters<BudgetStore["check"]>) {
    this.gate("check");
    return this.inner.check(...args);
  }
  async reserve(...args: Parameters<BudgetStore["reserve"]>) {
    if (this.reserveLands) await this.inner.reserve(...args);
    this.gate("reserve");
    return this.inner.reserve(...args);
  }
  async settle(...args: Parameters<BudgetStore["settle"]>) {
    this.gate("settle");
    return this.inner.settle(...args);
  }
  async release(...args: Parameters<BudgetStore["release"]>) {
    this.gate("release");
    return this.inner.release(...args);
  }
  async spent(key = KEY) {
    return (await this.inner.check([{ key, limitNano: Number.MAX_SAFE_INTEGER }])).states[0]?.spentNano;
  }
}

/** The store's circuit breaker on a clock the test moves (it probes a store that failed after 1 s, then less often). */
function breakerClock(store: BudgetStore): { advance(ms: number): void } {
  let now = 0;
  storeGuard(store, { clock: () => now });
  return { advance: (ms) => void (now += ms) };
}

describe('onStoreError: "deny" (the default)', () => {
  it("refuses the call with BudgetStoreUnavailableError (status 503) and sends nothing", async () => {
    server().setDefault({ usage: USAGE });
    const store = new FlakyStore();
    store.down = true;
    const budget = new BudgetCallbackHandler({ quotas: QUOTAS, store });

    const error = await rejectionOf(meteredModel(server()).invoke("x", { callbacks: [budget], metadata: META }));

    expect(BudgetStoreUnavailableError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ status: 503 });
    expect((error as Error).message).toContain("The budget store is unavailable (store down (now))");
    expect((error as Error).message).toContain('onStoreError: "allow"');
    expect(server().requests).toHaveLength(0);
  });

  it("a store that fails only to settle keeps the paid call's answer; the next call is refused", async () => {
    server().setDefault({ usage: USAGE, content: "paid for" });
    const store = new FlakyStore();
    const model = meteredModel(server(), { budget: { quotas: QUOTAS, store } });
    store.failing = new Set(["settle"]);
    store.down = true;

    const reply = await model.invoke("x", { metadata: META });
    expect(reply.text).toBe("paid for");

    store.failing = new Set(["now", "check", "reserve", "settle", "release"]);
    expect(BudgetStoreUnavailableError.isInstance(await rejectionOf(model.invoke("y", { metadata: META })))).toBe(true);
    expect(server().requests).toHaveLength(1);
    expect(await store.spent()).toBe(0); // the store never took it: the metering log is the record of it
  });
});

describe("a hard cap whose store fails to hold", () => {
  it("gives the run back what it held for the refused call (no phantom hold in the run's ledger)", async () => {
    server().setDefault((request) => ({ usage: { promptTokens: 8, completionTokens: Math.min(500, request.body.max_tokens ?? 500) } }));
    const store = new FlakyStore();
    const clock = breakerClock(store);
    // A full reservation of a short prompt with max 500 tokens is about $0.000306: one fits in $0.0005.
    const budget = new BudgetCallbackHandler({ limitUsd: 0.0005, hardCap: true, quotas: QUOTAS, store });
    const model = meteredModel(server(), { maxTokens: 500 });
    store.failing = new Set(["reserve"]);
    store.down = true;

    const error = await rejectionOf(model.invoke("hi", { callbacks: [budget], metadata: META }));
    expect(BudgetStoreUnavailableError.isInstance(error)).toBe(true);
    expect(server().requests).toHaveLength(0);

    store.down = false;
    clock.advance(1000); // the circuit breaker's first probe: the store answers again
    await model.invoke("hi", { callbacks: [budget], metadata: META });

    expect(server().requests[0]?.body.max_tokens).toBe(500); // the whole room: not clamped by a leftover hold
    expect(budget.records.at(-1)?.budget?.decision).toBe("allowed");
  });
});

describe('onStoreError: "allow"', () => {
  it("lets calls through, counts them locally, and warns once for the outage however many runs meet it", async () => {
    server().setDefault({ usage: USAGE });
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const store = new FlakyStore();
    const clock = breakerClock(store);
    const model = meteredModel(server(), { budget: { quotas: QUOTAS, store, onStoreError: "allow" } });

    await model.invoke("up", { metadata: META });
    store.down = true;
    for (const n of [1, 2, 3]) await model.invoke(`down ${n}`, { metadata: META }); // three runs, one warning
    expect(server().requests).toHaveLength(4);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toContain("the budget store is unavailable; metering quotas locally");

    store.down = false;
    clock.advance(1000); // the circuit breaker's first probe finds the store back
    await model.invoke("back", { metadata: META });
    expect(await store.spent()).toBe(2 * CALL_NANO); // before and after the outage, each once

    store.down = true; // a new outage is worth a new warning
    await model.invoke("down again", { metadata: META });
    expect(warn).toHaveBeenCalledTimes(2);
  });

  it("a hard-capped call the store failed to hold is counted locally only: not settled in the store once it is back, and the hold that landed is released", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const store = new FlakyStore();
    const clock = breakerClock(store);
    // While the call is out, the store comes back (the breaker's probe is due by the time it settles).
    server().setDefault(() => {
      store.down = false;
      clock.advance(1000);
      return { usage: USAGE };
    });
    const budget = new BudgetCallbackHandler({ hardCap: true, quotas: QUOTAS, store, onStoreError: "allow" });
    store.failing = new Set(["reserve"]);
    store.reserveLands = true;
    store.down = true;

    await meteredModel(server(), { maxTokens: 500 }).invoke("x", { callbacks: [budget], metadata: META });
    await pendingStoreEnds();

    expect(server().requests).toHaveLength(1);
    expect(budget.spentUsd).toBeGreaterThan(0); // counted, in this process's view and the log
    // The store did not check the call's room, so it doesn't count it (a quota could go over its limit that
    // way); the hold its reserve left there is gone.
    const [state] = (await store.inner.check([{ key: KEY, limitNano: Number.MAX_SAFE_INTEGER }])).states;
    expect(state).toMatchObject({ spentNano: 0, reservedNano: 0 });
    expect(store.calls.filter((op) => op === "settle")).toEqual([]);
  });

  it("an explicit handler reused across calls warns once too", async () => {
    server().setDefault({ usage: USAGE });
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const store = new FlakyStore();
    store.down = true;
    const budget = new BudgetCallbackHandler({ quotas: QUOTAS, store, onStoreError: "allow" });
    const model = meteredModel(server());

    for (const n of [1, 2, 3]) await model.invoke(`${n}`, { callbacks: [budget], metadata: META });

    expect(warn).toHaveBeenCalledTimes(1);
    expect(budget.spentUsd).toBe(0.00135);
    expect(server().requests).toHaveLength(3);
  });
});
