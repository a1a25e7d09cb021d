/**
 * The `BudgetStore` contract (see the TSDoc of `BudgetStore` in src/budget/store.ts), as one suite every store
 * runs: `describeStoreContract("InMemoryBudgetStore", setup)`, `describeStoreContract("RedisBudgetStore", setup)`.
 *
 * Time: tests that need a hold to expire or a window to end call `advance(ms)`, which a store under a fake
 * clock does at once and a store on a real clock (Redis' TIME) does by waiting; they use `shortTtlMs`, so the
 * waits of the whole suite stay under a second.
 *
 * Every test uses keys of its own (random), so a shared store (one Redis for the whole run) needs no cleanup.
 *
 * Figures are small round numbers of nano-USD: a limit of 1,000 and holds of 600 and 400 read more easily
 * than dollars, and the store knows nothing of dollars anyway.
 */
import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { BudgetStore, LimitState, StoreLimit } from "../../src/budget/store.js";
import { seeded } from "../support/seeded.js";

/** A store to run the contract against, made fresh for each test. */
export interface StoreUnderTest {
  store: BudgetStore;
  /**
   * A second handle on the same data (another worker's store, its own connection), for a shared store. The
   * concurrency tests split their calls between the two. Absent for a store of one process.
   */
  peer?: BudgetStore;
  /** Moves the store's clock forward by at least `ms`: a fake clock at once, a real one by waiting. */
  advance(ms: number): Promise<void>;
  /** A hold TTL (ms) that `advance(2 * shortTtlMs)` surely passes, and the store surely doesn't pass before it's checked. */
  shortTtlMs: number;
  cleanup?(): Promise<void> | void;
}

const LONG_TTL = 60_000;

/** The whole contract, as a `describe` block named `name`. `setup` runs before each test. */
export function describeStoreContract(name: string, setup: () => StoreUnderTest | Promise<StoreUnderTest>): void {
  describe(`BudgetStore contract: ${name}`, () => {
    let subject: StoreUnderTest;
    let store: BudgetStore;
    beforeEach(async () => {
      subject = await setup();
      store = subject.store;
    });
    afterEach(async () => {
      await subject?.cleanup?.();
    });

    /** A limit on a key of its own. */
    const limit = (label: string, limitNano: number, expiresAt?: number): StoreLimit => ({
      key: `contract:${label}:${randomUUID()}`,
      limitNano,
      expiresAt,
    });
    const id = (label: string) => `${label}-${randomUUID()}`;
    const stateOf = (l: StoreLimit, spentNano: number, reservedNano: number): LimitState => ({
      key: l.key,
      limitNano: l.limitNano,
      spentNano,
      reservedNano,
    });
    /** spent and reserved of each limit, as `check` reads them. */
    const figures = async (...limits: StoreLimit[]) =>
      (await store.check(limits)).states.map((s) => [s.spentNano, s.reservedNano]);
    /** Waits out a short hold. */
    const letShortHoldsExpire = () => subject.advance(2 * subject.shortTtlMs);

    describe("check", () => {
      it("reads zero for limits never used, and refuses none", async () => {
        const [a, b] = [limit("a", 1000), limit("b", 0)];
        // A limit of 0 is spent from the start: 0 >= 0.
        expect(await store.check([a, b])).toEqual({ states: [stateOf(a, 0, 0), stateOf(b, 0, 0)], refused: stateOf(b, 0, 0) });
        expect(await store.check([a])).toEqual({ states: [stateOf(a, 0, 0)] });
        expect(await store.check([])).toEqual({ states: [] });
      });

      it("refuses, naming the first spent limit in the order given, once spent >= limit; holds don't count", async () => {
        const [a, b, c] = [limit("a", 1000), limit("b", 500), limit("c", 300)];
        await store.settle(id("paid"), [b, c], 500);
        await store.reserve(id("held"), [a], 1000, LONG_TTL);

        const answer = await store.check([a, b, c]);
        expect(answer.states).toEqual([stateOf(a, 0, 1000), stateOf(b, 500, 0), stateOf(c, 500, 0)]);
        expect(answer.refused).toEqual(stateOf(b, 500, 0)); // b before c; a is fully held but not spent
        expect((await store.check([a])).refused).toBeUndefined();
      });
    });

    describe("reserve", () => {
      it("holds the amount in every limit and answers the states after the hold", async () => {
        const [a, b] = [limit("a", 1000), limit("b", 2000)];
        expect(await store.reserve(id("call"), [a, b], 600, LONG_TTL)).toEqual({ states: [stateOf(a, 0, 600), stateOf(b, 0, 600)] });
        expect(await figures(a, b)).toEqual([[0, 600], [0, 600]]);
      });

      it("counts other calls' holds: a second call that doesn't fit beside the first is refused", async () => {
        // Would pass against a store whose reserve ignored other calls' holds only if this refusal were missing.
        const l = limit("shared", 1000);
        expect((await store.reserve(id("first"), [l], 600, LONG_TTL)).refused).toBeUndefined();

        const second = await store.reserve(id("second"), [l], 600, LONG_TTL);

        expect(second).toEqual({ states: [stateOf(l, 0, 600)], refused: stateOf(l, 0, 600) });
        expect(await figures(l)).toEqual([[0, 600]]);
        // Exactly what is left fits: spent + held + amount = limit.
        expect((await store.reserve(id("third"), [l], 400, LONG_TTL)).refused).toBeUndefined();
        expect((await store.reserve(id("fourth"), [l], 1, LONG_TTL)).refused).toEqual(stateOf(l, 0, 1000));
      });

      it("counts spent money: refused when spent + held + amount > limit", async () => {
        const l = limit("l", 1000);
        await store.settle(id("paid"), [l], 700);
        await store.reserve(id("held"), [l], 200, LONG_TTL);
        expect((await store.reserve(id("big"), [l], 101, LONG_TTL)).refused).toEqual(stateOf(l, 700, 200));
        expect((await store.reserve(id("fits"), [l], 100, LONG_TTL)).refused).toBeUndefined();
        expect((await store.reserve(id("zero"), [l], 0, LONG_TTL)).refused).toBeUndefined(); // 0 more still fits
      });

      it("is all-or-nothing across limits: when one refuses, none holds, and the refusal names it", async () => {
        const [a, b, c] = [limit("a", 10_000), limit("b", 1000), limit("c", 10_000)];
        await store.settle(id("earlier"), [b], 800);

        const answer = await store.reserve(id("too-big"), [a, b, c], 300, LONG_TTL);

        expect(answer).toEqual({ states: [stateOf(a, 0, 0), stateOf(b, 800, 0), stateOf(c, 0, 0)], refused: stateOf(b, 800, 0) });
        expect(await figures(a, b, c)).toEqual([[0, 0], [800, 0], [0, 0]]);
        expect((await store.reserve(id("fits"), [a, b, c], 200, LONG_TTL)).refused).toBeUndefined();
        expect(await figures(a, b, c)).toEqual([[0, 200], [800, 200], [0, 200]]);
      });

      it("names the first limit, in the order given, that can't take the call", async () => {
        const [a, b] = [limit("a", 100), limit("b", 100)];
        expect((await store.reserve(id("x"), [a, b], 101, LONG_TTL)).refused?.key).toBe(a.key);
        expect((await store.reserve(id("x"), [b, a], 101, LONG_TTL)).refused?.key).toBe(b.key);
      });

      it("reserving again for the same call replaces its hold; its old hold doesn't stand in its way", async () => {
        const l = limit("l", 1000);
        const call = id("call");
        await store.reserve(call, [l], 600, LONG_TTL);
        expect(await store.reserve(call, [l], 600, LONG_TTL)).toEqual({ states: [stateOf(l, 0, 600)] });
        expect(await store.reserve(call, [l], 1000, LONG_TTL)).toEqual({ states: [stateOf(l, 0, 1000)] });
        expect(await store.reserve(call, [l], 250, LONG_TTL)).toEqual({ states: [stateOf(l, 0, 250)] });
        // A refused re-reserve leaves the old hold as it was.
        expect((await store.reserve(call, [l], 1001, LONG_TTL)).refused).toEqual(stateOf(l, 0, 250));
        expect(await figures(l)).toEqual([[0, 250]]);
      });

      it("holds nothing, and rejects with a RangeError, for a call that has already ended", async () => {
        const l = limit("l", 1000);
        const [settled, released] = [id("settled"), id("released")];
        await store.settle(settled, [l], 100);
        await store.release(released, [l]);

        await expect(store.reserve(settled, [l], 100, LONG_TTL)).rejects.toThrow(RangeError);
        await expect(store.reserve(released, [l], 100, LONG_TTL)).rejects.toThrow(/already ended/);
        expect(await figures(l)).toEqual([[100, 0]]);
      });
    });

    describe("settle", () => {
      it("replaces the call's hold with its cost in every limit, and answers the states after it", async () => {
        const [a, b] = [limit("a", 10_000), limit("b", 10_000)];
        const [call, other] = [id("call"), id("other")];
        await store.reserve(call, [a, b], 900, LONG_TTL);
        await store.reserve(other, [a], 300, LONG_TTL);

        expect(await store.settle(call, [a, b], 450)).toEqual([stateOf(a, 450, 300), stateOf(b, 450, 0)]);
      });

      it("without a hold, adds the cost", async () => {
        const l = limit("l", 1000);
        expect(await store.settle(id("unreserved"), [l], 1234)).toEqual([stateOf(l, 1234, 0)]); // over the limit: spend is a fact
        expect(await store.settle(id("free"), [l], 0)).toEqual([stateOf(l, 1234, 0)]);
      });

      it("counts once: a second settle (any cost) changes nothing and answers the current states", async () => {
        const l = limit("l", 10_000);
        const call = id("call");
        await store.reserve(call, [l], 900, LONG_TTL);
        const first = await store.settle(call, [l], 450);

        expect(await store.settle(call, [l], 450)).toEqual(first);
        expect(await store.settle(call, [l], 9999)).toEqual(first);
        await store.settle(id("another"), [l], 50);
        expect(await store.settle(call, [l], 450)).toEqual([stateOf(l, 500, 0)]); // current, not the first answer
      });

      it("counts once when the same settle arrives many times at once", async () => {
        const [a, b] = [limit("a", 10_000), limit("b", 10_000)];
        const call = id("retried");
        await store.reserve(call, [a, b], 900, LONG_TTL);
        const stores = [store, subject.peer ?? store];
        await Promise.all(Array.from({ length: 20 }, (_, i) => stores[i % 2]!.settle(call, [a, b], 450)));
        expect(await figures(a, b)).toEqual([[450, 0], [450, 0]]);
      });

      it("after a release changes nothing", async () => {
        const l = limit("l", 1000);
        const call = id("call");
        await store.reserve(call, [l], 600, LONG_TTL);
        await store.release(call, [l]);
        expect(await store.settle(call, [l], 450)).toEqual([stateOf(l, 0, 0)]);
      });
    });

    describe("release", () => {
      it("drops the call's hold in every limit, and only its own", async () => {
        const [a, b] = [limit("a", 1000), limit("b", 1000)];
        const [call, other] = [id("call"), id("other")];
        await store.reserve(call, [a, b], 500, LONG_TTL);
        await store.reserve(other, [a, b], 300, LONG_TTL);

        await store.release(call, [a, b]);

        expect(await figures(a, b)).toEqual([[0, 300], [0, 300]]);
      });

      it("is idempotent: a second release doesn't touch other calls' holds or spend", async () => {
        const l = limit("l", 1000);
        const [call, other] = [id("call"), id("other")];
        await store.settle(id("paid"), [l], 100);
        await store.reserve(call, [l], 500, LONG_TTL);
        await store.reserve(other, [l], 300, LONG_TTL);

        await store.release(call, [l]);
        await store.release(call, [l]);
        await Promise.all([store.release(call, [l]), (subject.peer ?? store).release(call, [l])]);

        expect(await figures(l)).toEqual([[100, 300]]);
      });

      it("after a settle changes nothing", async () => {
        const l = limit("l", 1000);
        const call = id("call");
        await store.reserve(call, [l], 600, LONG_TTL);
        await store.settle(call, [l], 450);
        await store.release(call, [l]);
        expect(await figures(l)).toEqual([[450, 0]]);
      });

      it("of a call that held nothing changes nothing", async () => {
        const l = limit("l", 1000);
        await store.reserve(id("other"), [l], 300, LONG_TTL);
        await store.release(id("never-reserved"), [l]);
        expect(await figures(l)).toEqual([[0, 300]]);
      });
    });

    describe("expired holds", () => {
      it("are charged: a hold that outlived its ttl counts as spent, at its full amount, in every limit", async () => {
        const [a, b] = [limit("a", 1000), limit("b", 5000)];
        const live = id("live");
        await store.reserve(id("dead-worker"), [a, b], 700, subject.shortTtlMs);
        await store.reserve(live, [b], 100, LONG_TTL);

        await letShortHoldsExpire();

        expect(await figures(a, b)).toEqual([[700, 0], [700, 100]]);
        // The charge stands in the way like any spend: 700 + 400 > 1000.
        expect((await store.reserve(id("next"), [a], 400, LONG_TTL)).refused).toEqual(stateOf(a, 700, 0));
        expect(await figures(a, b)).toEqual([[700, 0], [700, 100]]); // and is charged once
      });

      it("a settle after the expiry replaces the charge with the actual cost (lower or higher)", async () => {
        const [a, b] = [limit("a", 10_000), limit("b", 10_000)];
        const [cheap, dear] = [id("cheap"), id("dear")];
        await store.reserve(cheap, [a, b], 700, subject.shortTtlMs);
        await store.reserve(dear, [b], 700, subject.shortTtlMs);

        await letShortHoldsExpire();
        // The settles themselves find the holds expired (nothing read them in between).
        expect(await store.settle(cheap, [a, b], 250)).toEqual([stateOf(a, 250, 0), stateOf(b, 250 + 700, 0)]);
        expect(await store.settle(dear, [b], 900)).toEqual([stateOf(b, 250 + 900, 0)]);
        expect(await store.settle(dear, [b], 900)).toEqual([stateOf(b, 250 + 900, 0)]); // still once
      });

      it("a release after the expiry reverses the charge, once", async () => {
        const l = limit("l", 1000);
        const call = id("call");
        await store.settle(id("paid"), [l], 100);
        await store.reserve(call, [l], 700, subject.shortTtlMs);

        await letShortHoldsExpire();
        expect(await figures(l)).toEqual([[800, 0]]);
        await store.release(call, [l]);
        await store.release(call, [l]);

        expect(await figures(l)).toEqual([[100, 0]]);
      });

      it("a call that reserves again after its hold expired gets its hold back instead of the charge", async () => {
        const l = limit("l", 1000);
        const [call, free] = [id("slow"), id("free")];
        await store.reserve(call, [l], 700, subject.shortTtlMs);
        await store.reserve(free, [l], 0, subject.shortTtlMs); // a charge of 0 must reverse as cleanly (no "-0")

        await letShortHoldsExpire();
        expect((await store.reserve(call, [l], 900, LONG_TTL)).refused).toBeUndefined(); // its own charge is replaced
        expect((await store.reserve(free, [l], 0, LONG_TTL)).refused).toBeUndefined();

        expect(await figures(l)).toEqual([[0, 900]]);
        expect(await store.settle(call, [l], 300)).toEqual([stateOf(l, 300, 0)]);
        await store.release(free, [l]);
        expect(await figures(l)).toEqual([[300, 0]]);
      });
    });

    describe("windows", () => {
      it("a counter whose window has ended starts again from zero", async () => {
        const now = await store.now();
        const ending = limit("day", 1000, now + subject.shortTtlMs);
        await store.settle(id("paid"), [ending], 1000);
        expect((await store.check([ending])).refused).toBeDefined();

        await letShortHoldsExpire();

        expect(await store.check([ending])).toEqual({ states: [stateOf(ending, 0, 0)] });
      });
    });

    describe("amounts", () => {
      const MAX = Number.MAX_SAFE_INTEGER;

      it("1e14 and 2^53 − 1 nano-USD round-trip exactly", async () => {
        const l = limit("big", MAX);
        const [held, last] = [id("held"), id("last")];
        expect(await store.settle(id("a"), [l], 1e14)).toEqual([stateOf(l, 1e14, 0)]);
        expect(await store.reserve(held, [l], MAX - 1e14 - 1, LONG_TTL)).toEqual({ states: [stateOf(l, 1e14, MAX - 1e14 - 1)] });
        // One nano-USD is left, exactly.
        expect((await store.reserve(id("two"), [l], 2, LONG_TTL)).refused).toEqual(stateOf(l, 1e14, MAX - 1e14 - 1));
        expect((await store.reserve(last, [l], 1, LONG_TTL)).refused).toBeUndefined();
        await store.release(last, [l]);
        expect(await store.settle(held, [l], MAX - 1e14)).toEqual([stateOf(l, MAX, 0)]);
        expect((await store.check([l])).refused).toEqual(stateOf(l, MAX, 0));

        const whole = limit("whole", MAX);
        expect(await store.reserve(id("max"), [whole], MAX, LONG_TTL)).toEqual({ states: [stateOf(whole, 0, MAX)] });
        expect(await store.settle(id("max-cost"), [limit("cost", 1)], MAX)).toEqual([expect.objectContaining({ spentNano: MAX })]);
      });

      it("anything but a non-negative safe integer is a RangeError, and the store is left untouched", async () => {
        const l = limit("l", 1000);
        const bad: unknown[] = [1.5, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, "100", undefined, null];
        for (const value of bad) {
          const amount = value as number;
          await expect(store.reserve(id("r"), [l], amount, LONG_TTL), `reserve ${String(value)}`).rejects.toThrow(RangeError);
          await expect(store.settle(id("s"), [l], amount), `settle ${String(value)}`).rejects.toThrow(RangeError);
          await expect(store.check([{ key: l.key, limitNano: amount }]), `limit ${String(value)}`).rejects.toThrow(RangeError);
        }
        await expect(store.reserve(id("r"), [l], 1.5, LONG_TTL)).rejects.toThrow(/amountNano: expected a non-negative safe integer.*got 1\.5/);
        for (const ttl of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
          await expect(store.reserve(id("t"), [l], 10, ttl), `ttl ${ttl}`).rejects.toThrow(/ttlMs/);
        }
        await expect(store.reserve("", [l], 10, LONG_TTL)).rejects.toThrow(/callId/);
        await expect(store.settle(id("dup"), [l, { ...l }], 10)).rejects.toThrow(/appears twice/);
        await expect(store.check([{ key: l.key, limitNano: 1, expiresAt: 1.5 }])).rejects.toThrow(/expiresAt/);

        expect(await figures(l)).toEqual([[0, 0]]);
      });
    });

    describe("concurrency", () => {
      it("200 concurrent reserves of random amounts (two stores) never over-commit a limit", async () => {
        const l = limit("race", 100_000);
        const stores = [store, subject.peer ?? store];
        const random = seeded(42);
        const amounts = Array.from({ length: 200 }, () => 1 + Math.floor(random() * 2000)); // ~200,000 asked in all

        const answers = await Promise.all(amounts.map((amount, i) => stores[i % 2]!.reserve(id(`r${i}`), [l], amount, LONG_TTL)));

        const held = amounts.filter((_, i) => !answers[i]!.refused).reduce((sum, amount) => sum + amount, 0);
        expect(held).toBeLessThanOrEqual(100_000);
        expect(answers.filter((a) => a.refused).length).toBeGreaterThan(0);
        expect(await figures(l)).toEqual([[0, held]]);
        // Each answer is the state it was decided on: a refusal was right when it was made, a hold fit.
        answers.forEach((answer, i) => {
          const state = answer.states[0]!;
          if (answer.refused) expect(state.spentNano + state.reservedNano + amounts[i]!).toBeGreaterThan(100_000);
          else expect(state.reservedNano).toBeLessThanOrEqual(100_000);
        });
      });

      it("concurrent reserve-then-settle calls (two stores) count every cost exactly once and leave no hold", async () => {
        const [a, b] = [limit("a", 10_000_000), limit("b", 10_000_000)];
        const stores = [store, subject.peer ?? store];
        const costs = Array.from({ length: 100 }, (_, i) => 1000 + i);
        await Promise.all(
          costs.map(async (cost, i) => {
            const call = id(`c${i}`);
            const s = stores[i % 2]!;
            expect((await s.reserve(call, [a, b], 5000, LONG_TTL)).refused).toBeUndefined();
            await s.settle(call, [a, b], cost);
            await stores[(i + 1) % 2]!.settle(call, [a, b], cost); // a retry through the other worker
          }),
        );
        const total = costs.reduce((sum, cost) => sum + cost, 0);
        expect(await figures(a, b)).toEqual([[total, 0], [total, 0]]);
      });
    });

    describe("now()", () => {
      it("is whole milliseconds, doesn't go backwards, and moves with the store's clock", async () => {
        const readings: number[] = [];
        for (let i = 0; i < 5; i++) readings.push(await store.now());
        expect(readings.every(Number.isInteger)).toBe(true);
        for (let i = 1; i < readings.length; i++) expect(readings[i]!).toBeGreaterThanOrEqual(readings[i - 1]!);
        const before = await store.now();
        await subject.advance(20);
        expect((await store.now()) - before).toBeGreaterThanOrEqual(19);
      });
    });
  });
}

