import type { NanoUsd } from "../pricing/money.js";

/** One limit a call is checked against in a store: a quota's key for the current window, and its limit. */
export interface StoreLimit {
  /** The full key, window included (e.g. `tenant:acme:month:2026-11`). */
  key: string;
  limitNano: NanoUsd;
  /** When the window ends (ms since epoch), so its counter can expire; `undefined` for a `"total"` quota. */
  expiresAt?: number | undefined;
}

/** The state of one limit, as the store answered. */
export interface LimitState {
  key: string;
  limitNano: NanoUsd;
  spentNano: NanoUsd;
  reservedNano: NanoUsd;
}

/** Why a store refused: the first limit that could not take the call. */
export interface Refusal {
  refused: LimitState;
}

/**
 * Where quotas keep their spend: in memory (one process) or shared (`RedisBudgetStore` for a fleet). Every
 * method is atomic over all the limits it is given, so a call is checked, reserved and settled against a
 * user's and a tenant's quota at once, and concurrent workers can't all pass the same check.
 * Amounts are integer nano-USD.
 */
export interface BudgetStore {
  /** The spend and holds of each limit; a refusal when any is already spent (`spent >= limit`). */
  check(limits: readonly StoreLimit[]): Promise<{ states: LimitState[] } & Partial<Refusal>>;
  /**
   * Holds `amountNano` in every limit for call `callId`, or in none when any can't take it. A hold expires
   * after `ttlMs` (a crashed worker doesn't block a tenant forever).
   */
  reserve(callId: string, limits: readonly StoreLimit[], amountNano: NanoUsd, ttlMs: number): Promise<Partial<Refusal>>;
  /**
   * Replaces call `callId`'s hold (if any) with its actual cost in every limit. Idempotent by `callId`: a
   * retried settle counts once. Returns the states after it.
   */
  settle(callId: string, limits: readonly StoreLimit[], costNano: NanoUsd): Promise<LimitState[]>;
  /** Drops call `callId`'s hold (the call failed and was not paid for). */
  release(callId: string, limits: readonly StoreLimit[]): Promise<void>;
  /** The store's clock, ms since epoch: windows roll over by it, so every worker agrees. */
  now(): Promise<number>;
}
