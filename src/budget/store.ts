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
  /** Money counted as spent: settled costs, plus the full amount of holds that expired before their call ended. */
  spentNano: NanoUsd;
  /** Money held by calls in flight (holds that have not expired). */
  reservedNano: NanoUsd;
}

/** Why a store refused: the first limit that could not take the call. */
export interface Refusal {
  refused: LimitState;
}

/**
 * Where quotas keep their spend: in memory (one process, `InMemoryBudgetStore`) or shared (`RedisBudgetStore`
 * for a fleet). Every implementation keeps this contract; `test/budget/store-contract.ts` checks it against
 * each store.
 *
 * **Amounts.** Every amount (`limitNano`, `amountNano`, `costNano`) is a non-negative safe integer of nano-USD
 * (`Number.isSafeInteger`); values up to `Number.MAX_SAFE_INTEGER` round-trip exactly. Anything else (a
 * fraction, a negative, `NaN`, an unsafe integer), a `ttlMs` that isn't a positive safe integer, an empty call
 * id, or two limits with the same key is a `RangeError`, thrown before the store is touched.
 *
 * **Atomicity.** Each method is atomic over all the limits it is given: concurrent callers (other processes
 * included, for a shared store) can't all pass the same check, and a call one limit refuses is held in none.
 *
 * **Holds and their expiry.** `reserve` holds a call's worst case before the call is sent. A hold expires
 * `ttlMs` after it was made, and **an expired hold is charged**: its amount moves into `spentNano`, so a
 * worker that died (or stalled) mid-call is counted at its worst case rather than not at all. The store
 * remembers `callId → amount` of that charge ("expired-charged") for as long as it remembers ended call ids
 * (below), so a late `settle` or `release` can still correct it.
 *
 * **Ending a call.** `settle` and `release` end a call; a call ends once. The store remembers ended call ids
 * for a while (`RedisBudgetStore`: `settledTtlMs`, 24 h by default; `InMemoryBudgetStore`: the same TTL and at
 * most `maxRememberedCalls` ids, oldest forgotten first). While it remembers an id: a second `settle` or
 * `release` of it changes nothing, and `reserve` for it holds nothing and rejects with a `RangeError` (a call id
 * names one call; it also keeps a reserve that arrives late, e.g. sent again after a reconnect, from holding
 * money for a call that has already ended).
 */
export interface BudgetStore {
  /**
   * The state of each limit (expired holds are charged first). Refuses, naming the first limit in the order
   * given, when a limit is already spent: `spentNano >= limitNano` (holds don't count here: they are for
   * `reserve`).
   */
  check(limits: readonly StoreLimit[]): Promise<{ states: LimitState[] } & Partial<Refusal>>;
  /**
   * Holds `amountNano` under `callId` in every limit, or in none when any limit has
   * `spentNano + reservedNano + amountNano > limitNano` (the first such limit, in the order given, is the
   * refusal). Reserving again for a call that already holds replaces its amount (its old hold doesn't count
   * against the new one); a call whose hold had expired and been charged gets its hold back instead of the
   * charge. The hold expires `ttlMs` after this reserve.
   *
   * Returns the states: after the hold when it was taken, unchanged when refused, so the caller can tell
   * whether spent money (final) or held money (ends when the holds do) stands in the way.
   */
  reserve(
    callId: string,
    limits: readonly StoreLimit[],
    amountNano: NanoUsd,
    ttlMs: number,
  ): Promise<{ states: LimitState[] } & Partial<Refusal>>;
  /**
   * Ends call `callId` as billed: replaces its hold, or the charge of its expired hold, with `costNano` in every
   * limit (`spent += cost`, minus the expired amount if it had been charged; with no hold at all, just
   * `spent += cost`). Idempotent: a second settle, or a settle after a release, changes nothing. Returns the
   * states after it (the current states, for a call that had already ended).
   */
  settle(callId: string, limits: readonly StoreLimit[], costNano: NanoUsd): Promise<LimitState[]>;
  /**
   * Ends call `callId` as not billed: drops its hold, or reverses the charge of its hold if that had expired.
   * Idempotent: a second release, or a release after a settle, changes nothing.
   */
  release(callId: string, limits: readonly StoreLimit[]): Promise<void>;
  /** The store's clock, ms since epoch: windows roll over by it, so every worker agrees. */
  now(): Promise<number>;
  /**
   * Optional: claims `id` once, for every process sharing the store, until `expiresAt` (ms since epoch; for
   * good without); true for the first claimer only. Budget alerts use it to fire once per window across a
   * fleet; a store without it fires them once per process.
   */
  claimOnce?(id: string, expiresAt: number | undefined): Promise<boolean>;
}

/**
 * Throws a `RangeError` unless `value` is an amount of nano-USD a store can count exactly: a non-negative safe
 * integer. `what` names the argument in the message.
 */
export function assertNano(what: string, value: unknown): asserts value is NanoUsd {
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return;
  throw new RangeError(
    `${what}: expected a non-negative safe integer of nano-USD (0 to ${Number.MAX_SAFE_INTEGER}), got ${describe(value)}. ` +
      "Round money to whole nano-USD once, before it reaches the store (usdToNano).",
  );
}

/** Throws a `RangeError` unless `ttlMs` is a positive safe integer of milliseconds. */
export function assertTtl(ttlMs: unknown): asserts ttlMs is number {
  if (typeof ttlMs === "number" && Number.isSafeInteger(ttlMs) && ttlMs > 0) return;
  throw new RangeError(`ttlMs: expected a positive whole number of milliseconds, got ${describe(ttlMs)}.`);
}

/** Throws a `RangeError` unless `callId` is a non-empty string. */
export function assertCallId(callId: unknown): asserts callId is string {
  if (typeof callId === "string" && callId.length > 0) return;
  throw new RangeError(`callId: expected a non-empty string naming one call (e.g. its run id), got ${describe(callId)}.`);
}

/**
 * Throws a `RangeError` unless every limit has a non-empty key of its own, an amount a store can count
 * ({@link assertNano}) and, if any, a whole-millisecond `expiresAt`. Two limits with one key would charge one
 * counter twice per call.
 */
export function assertLimits(limits: readonly StoreLimit[]): void {
  if (!Array.isArray(limits)) throw new RangeError(`limits: expected an array of StoreLimit, got ${describe(limits)}.`);
  const seen = new Set<string>();
  limits.forEach((limit, i) => {
    const key: unknown = limit?.key;
    if (typeof key !== "string" || key.length === 0) {
      throw new RangeError(`limits[${i}].key: expected a non-empty string, got ${describe(key)}.`);
    }
    if (seen.has(key)) {
      throw new RangeError(
        `limits[${i}].key: "${key}" appears twice; one call must name each counter once (merge the two limits, keeping the lower).`,
      );
    }
    seen.add(key);
    assertNano(`limits[${i}].limitNano`, limit.limitNano);
    const at: unknown = limit.expiresAt;
    if (at !== undefined && !(typeof at === "number" && Number.isSafeInteger(at) && at > 0)) {
      throw new RangeError(
        `limits[${i}].expiresAt: expected undefined (never expires) or whole milliseconds since epoch, got ${describe(at)}.`,
      );
    }
  });
}

/** The error for a reserve of a call that has already ended (settled or released). */
export function callEndedError(callId: string): RangeError {
  return new RangeError(
    `reserve("${callId}"): this call has already ended (settled or released), so nothing was held. ` +
      "A call id names one call: reserve a new call under a new id.",
  );
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") return String(value);
  if (value === null || value === undefined) return String(value);
  return typeof value;
}
