import type { NanoUsd } from "../pricing/money.js";
import type { BudgetStore, LimitState, Refusal, StoreLimit } from "./store.js";

interface Counter {
  spent: NanoUsd;
  holds: Map<string, { amount: NanoUsd; expiresAt: number }>;
  expiresAt: number | undefined;
}

/** How often (in counter lookups) ended windows are swept out. */
const PRUNE_EVERY = 1024;

/** How long a settled call id is remembered, so a retried settle counts once. */
const SETTLED_MEMORY_MS = 24 * 60 * 60 * 1000;

/**
 * The default `BudgetStore`: quotas held in this process's memory. Right for one process; a fleet of
 * workers needs a shared store (`RedisBudgetStore` from `langchain-metered/redis`).
 *
 * @example
 * ```ts
 * const store = new InMemoryBudgetStore();
 * new BudgetCallbackHandler({ quotas: [{ key: "user:{user_id}", limitUsd: 5, window: "day" }], store });
 * ```
 */
export class InMemoryBudgetStore implements BudgetStore {
  private readonly counters = new Map<string, Counter>();
  private readonly settled = new Map<string, { at: number; states: LimitState[] }>();
  private readonly clock: () => number;
  private operations = 0;

  /** @param options.clock the store's clock in ms since epoch (tests move it); default `Date.now`. */
  constructor(options: { clock?: () => number } = {}) {
    this.clock = options.clock ?? Date.now;
  }

  async now(): Promise<number> {
    return this.clock();
  }

  async check(limits: readonly StoreLimit[]) {
    const states = limits.map((limit) => this.state(limit));
    const refused = states.find((state) => state.spentNano >= state.limitNano);
    return refused ? { states, refused } : { states };
  }

  async reserve(callId: string, limits: readonly StoreLimit[], amountNano: NanoUsd, ttlMs: number): Promise<Partial<Refusal>> {
    const states = limits.map((limit) => this.state(limit));
    const refused = states.find((state) => state.spentNano + state.reservedNano + amountNano > state.limitNano);
    if (refused) return { refused };
    const expiresAt = this.clock() + ttlMs;
    for (const limit of limits) this.counter(limit).holds.set(callId, { amount: amountNano, expiresAt });
    return {};
  }

  async settle(callId: string, limits: readonly StoreLimit[], costNano: NanoUsd): Promise<LimitState[]> {
    this.forgetOldSettlements();
    const done = this.settled.get(callId);
    if (done) return done.states;
    for (const limit of limits) {
      const counter = this.counter(limit);
      counter.holds.delete(callId);
      counter.spent += costNano;
    }
    const states = limits.map((limit) => this.state(limit));
    this.settled.set(callId, { at: this.clock(), states });
    return states;
  }

  async release(callId: string, limits: readonly StoreLimit[]): Promise<void> {
    for (const limit of limits) this.counters.get(limit.key)?.holds.delete(callId);
  }

  private counter(limit: StoreLimit): Counter {
    const now = this.clock();
    if (++this.operations % PRUNE_EVERY === 0) this.pruneExpired(now);
    let counter = this.counters.get(limit.key);
    if (!counter || (counter.expiresAt !== undefined && counter.expiresAt <= now)) {
      counter = { spent: 0, holds: new Map(), expiresAt: limit.expiresAt };
      this.counters.set(limit.key, counter);
    }
    for (const [id, hold] of counter.holds) if (hold.expiresAt <= now) counter.holds.delete(id);
    return counter;
  }

  /** Counters of windows that have ended are dropped, so memory doesn't grow with users × days. */
  private pruneExpired(now: number): void {
    for (const [key, counter] of this.counters) {
      if (counter.expiresAt !== undefined && counter.expiresAt <= now) this.counters.delete(key);
    }
  }

  private state(limit: StoreLimit): LimitState {
    const counter = this.counter(limit);
    let reserved = 0;
    for (const hold of counter.holds.values()) reserved += hold.amount;
    return { key: limit.key, limitNano: limit.limitNano, spentNano: counter.spent, reservedNano: reserved };
  }

  private forgetOldSettlements(): void {
    const cutoff = this.clock() - SETTLED_MEMORY_MS;
    for (const [id, entry] of this.settled) {
      if (entry.at > cutoff) break; // insertion order is time order
      this.settled.delete(id);
    }
  }
}
