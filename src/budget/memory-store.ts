import { z } from "zod";
import type { NanoUsd } from "../pricing/money.js";
import { aFunction, parseOptions, positiveWhole } from "../validation.js";
import {
  assertCallId,
  assertLimits,
  assertNano,
  assertTtl,
  callEndedError,
  type BudgetStore,
  type LimitState,
  type Refusal,
  type StoreLimit,
} from "./store.js";

/** One limit's counter: what it spent, what calls hold in it, and the expired holds it charged. */
interface Counter {
  spent: NanoUsd;
  holds: Map<string, { amount: NanoUsd; expiresAt: number }>;
  /** Holds that expired and were charged, by call id, in the order they expired: kept so a late settle can correct them. */
  expired: Map<string, { amount: NanoUsd; at: number }>;
  expiresAt: number | undefined;
}

/** Options of {@link InMemoryBudgetStore}. */
export interface InMemoryBudgetStoreOptions {
  /** The store's clock in ms since epoch (tests move it). Default `Date.now`. */
  clock?: () => number;
  /**
   * At most how many ended (settled or released) call ids are remembered, so a retried settle counts once;
   * the oldest are forgotten first. Each costs about 130 bytes with a UUID id (100,000: ~13 MB). Default 100,000.
   */
  maxRememberedCalls?: number;
  /** At most how long an ended call id (and an expired hold's charge) is remembered. Default 24 hours. */
  settledTtlMs?: number;
}

const memoryStoreOptions = z.strictObject({
  clock: aFunction<() => number>().optional(),
  maxRememberedCalls: positiveWhole().optional(),
  settledTtlMs: positiveWhole().optional(),
});

/** How often (in counter lookups) ended windows are swept out. */
const PRUNE_EVERY = 1024;

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The default `BudgetStore`: quotas held in this process's memory. Right for one process; a fleet of
 * workers needs a shared store (`RedisBudgetStore` from `langchain-metered/redis`). Keeps the contract of
 * {@link BudgetStore}; its memory is bounded: counters of ended windows are dropped, and at most
 * `maxRememberedCalls` ended call ids (no older than `settledTtlMs`) are remembered.
 *
 * @example
 * ```ts
 * const store = new InMemoryBudgetStore();
 * new BudgetCallbackHandler({ quotas: [{ key: "user:{user_id}", limitUsd: 5, window: "day" }], store });
 * ```
 */
export class InMemoryBudgetStore implements BudgetStore {
  private readonly counters = new Map<string, Counter>();
  /** Ended call id → when it ended. Insertion order is the order they ended, so the oldest go first. */
  private readonly ended = new Map<string, number>();
  private readonly clock: () => number;
  private readonly maxRemembered: number;
  private readonly rememberMs: number;
  private operations = 0;

  constructor(options: InMemoryBudgetStoreOptions = {}) {
    const parsed = parseOptions(memoryStoreOptions, options, "InMemoryBudgetStore", "");
    this.clock = parsed.clock ?? Date.now;
    this.maxRemembered = parsed.maxRememberedCalls ?? 100_000;
    this.rememberMs = parsed.settledTtlMs ?? DAY_MS;
  }

  /** Claims `id` once (until `expiresAt`, ms since epoch; for good without): true for the first claimer only. */
  async claimOnce(id: string, expiresAt: number | undefined): Promise<boolean> {
    const now = this.clock();
    const until = this.claims.get(id);
    if (until !== undefined && until > now) return false;
    if (this.claims.size >= this.maxRemembered) this.claims.delete(this.claims.keys().next().value as string);
    this.claims.set(id, expiresAt ?? Number.POSITIVE_INFINITY);
    return true;
  }

  private readonly claims = new Map<string, number>();

  /** How many ended call ids are remembered now (at most `maxRememberedCalls`). */
  get rememberedCalls(): number {
    return this.ended.size;
  }

  async now(): Promise<number> {
    return this.clock();
  }

  async check(limits: readonly StoreLimit[]) {
    assertLimits(limits);
    const now = this.clock();
    const states = limits.map((limit) => stateOf(limit, this.counter(limit, now)));
    const refused = states.find((state) => state.spentNano >= state.limitNano);
    return refused ? { states, refused } : { states };
  }

  async reserve(callId: string, limits: readonly StoreLimit[], amountNano: NanoUsd, ttlMs: number) {
    assertCallId(callId);
    assertLimits(limits);
    assertNano("amountNano", amountNano);
    assertTtl(ttlMs);
    if (this.hasEnded(callId)) throw callEndedError(callId);
    const now = this.clock();
    const counters = limits.map((limit) => this.counter(limit, now));
    const states = limits.map((limit, i) => stateOf(limit, counters[i]!));
    // The call's own hold (or its expired charge) is replaced, so it doesn't stand in its own way.
    const refused = states.find((state, i) => {
      const counter = counters[i]!;
      const spent = state.spentNano - (counter.expired.get(callId)?.amount ?? 0);
      const held = state.reservedNano - (counter.holds.get(callId)?.amount ?? 0);
      return spent + held + amountNano > state.limitNano;
    });
    if (refused) return { states, refused } satisfies { states: LimitState[] } & Refusal;
    for (const counter of counters) {
      const charged = counter.expired.get(callId);
      if (charged) {
        counter.spent -= charged.amount;
        counter.expired.delete(callId);
      }
      counter.holds.delete(callId); // re-inserted last: holds stay in the order they expire
      counter.holds.set(callId, { amount: amountNano, expiresAt: now + ttlMs });
    }
    return { states: limits.map((limit, i) => stateOf(limit, counters[i]!)) };
  }

  async settle(callId: string, limits: readonly StoreLimit[], costNano: NanoUsd): Promise<LimitState[]> {
    assertCallId(callId);
    assertLimits(limits);
    assertNano("costNano", costNano);
    const now = this.clock();
    const counters = limits.map((limit) => this.counter(limit, now));
    if (!this.hasEnded(callId)) {
      for (const counter of counters) counter.spent += costNano - this.endCall(counter, callId);
      this.remember(callId, now);
    }
    return limits.map((limit, i) => stateOf(limit, counters[i]!));
  }

  async release(callId: string, limits: readonly StoreLimit[]): Promise<void> {
    assertCallId(callId);
    assertLimits(limits);
    if (this.hasEnded(callId)) return;
    const now = this.clock();
    for (const limit of limits) {
      const counter = this.counter(limit, now);
      counter.spent -= this.endCall(counter, callId);
    }
    this.remember(callId, now);
  }

  /** Drops the call's hold or expired charge from a counter; returns the amount already in `spent` for it. */
  private endCall(counter: Counter, callId: string): NanoUsd {
    counter.holds.delete(callId);
    const charged = counter.expired.get(callId);
    counter.expired.delete(callId);
    return charged?.amount ?? 0;
  }

  /** A limit's counter, as of `now`: expired holds charged, old charges forgotten, a new one for a new window. */
  private counter(limit: StoreLimit, now: number): Counter {
    if (++this.operations % PRUNE_EVERY === 0) this.pruneEndedWindows(now);
    let counter = this.counters.get(limit.key);
    if (!counter || (counter.expiresAt !== undefined && counter.expiresAt <= now)) {
      counter = { spent: 0, holds: new Map(), expired: new Map(), expiresAt: limit.expiresAt };
      this.counters.set(limit.key, counter);
    }
    for (const [id, hold] of counter.holds) {
      if (hold.expiresAt > now) continue;
      // The call outlived its hold (its worker died or stalled): count its worst case rather than nothing.
      counter.holds.delete(id);
      counter.spent += hold.amount;
      counter.expired.set(id, { amount: hold.amount, at: hold.expiresAt });
    }
    const forgetBefore = now - this.rememberMs;
    for (const [id, charge] of counter.expired) {
      if (charge.at > forgetBefore && counter.expired.size <= this.maxRemembered) break;
      counter.expired.delete(id); // oldest first; a late settle of it would now count on top
    }
    return counter;
  }

  /** Counters of windows that have ended are dropped, so memory doesn't grow with users × days. */
  private pruneEndedWindows(now: number): void {
    for (const [key, counter] of this.counters) {
      if (counter.expiresAt !== undefined && counter.expiresAt <= now) this.counters.delete(key);
    }
  }

  private hasEnded(callId: string): boolean {
    const at = this.ended.get(callId);
    return at !== undefined && at > this.clock() - this.rememberMs;
  }

  /** Remembers an ended call: only its id and when, and no more than `maxRememberedCalls` of them. */
  private remember(callId: string, now: number): void {
    this.ended.delete(callId); // re-inserted last, so the map stays in the order calls ended
    this.ended.set(callId, now);
    const forgetBefore = now - this.rememberMs;
    for (const [id, at] of this.ended) {
      if (at > forgetBefore && this.ended.size <= this.maxRemembered) break;
      this.ended.delete(id);
    }
  }
}

function stateOf(limit: StoreLimit, counter: Counter): LimitState {
  let reserved = 0;
  for (const hold of counter.holds.values()) reserved += hold.amount;
  return { key: limit.key, limitNano: limit.limitNano, spentNano: counter.spent, reservedNano: reserved };
}
