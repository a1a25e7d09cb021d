import { z } from "zod";
import { aFunction, parseOptions } from "../validation.js";
import type { BudgetStore } from "./store.js";

/**
 * The error of an operation the guard refused without trying it, because the store is down. `cause` is the
 * last error the store gave; `since` is when the guard first saw it fail (by the guard's clock).
 */
export class StoreDownError extends Error {
  override readonly name = "StoreDownError";
  /** When the store started failing (ms, by the guard's clock: `Date.now` unless one was injected). */
  readonly since: number;
  /** When the guard lets the next probe through (same clock). */
  readonly nextProbeAt: number;

  constructor(cause: unknown, since: number, nextProbeAt: number, now: number) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      `The budget store has been failing for ${Math.max(0, Math.round(now - since))} ms (last error: ${reason}); ` +
        `this operation was refused without trying it. The next probe goes through in ${Math.max(0, Math.round(nextProbeAt - now))} ms; ` +
        "check that the store (e.g. Redis) is up and reachable.",
      { cause },
    );
    this.since = since;
    this.nextProbeAt = nextProbeAt;
  }
}

/** Options of {@link storeGuard}; they apply when a store's guard is created (the first call for that store). */
export interface StoreGuardOptions {
  /** ms since epoch; tests inject a fake one. Default `Date.now`. */
  clock?: () => number;
  /** How long after a failure the first probe goes through. Default 1000 ms. */
  probeIntervalMs?: number;
  /** The longest wait between probes, which doubles while probes fail. Default 30,000 ms. */
  maxProbeIntervalMs?: number;
  /**
   * How long the caller whose operation is due to probe waits for the probe's answer before it is decided
   * by the policy like every other caller (the probe goes on, and closes the breaker when it succeeds).
   * Default 3 ms (a store on the same network answers a probe in well under 1 ms): with the timer's own lag, a
   * decision during an outage stays within 5 ms and never waits for a store's timeout.
   */
  probeWaitMs?: number;
}

/** Options of one {@link StoreGuard.run}. */
export interface GuardedRunOptions {
  /**
   * Whether this operation's success shows the store is up (default true). Say `false` for one that may
   * answer without reaching the store (e.g. `RedisBudgetStore.now()`, served from a cached clock offset): it
   * never closes the breaker, and is never used as a probe.
   */
  recovers?: boolean;
}

/** A circuit breaker in front of one `BudgetStore`. Get it with {@link storeGuard}. */
export interface StoreGuard {
  /**
   * Runs `operation` against the store, unless the store is down: then rejects at once, with no I/O, with a
   * {@link StoreDownError}. Once a probe interval has passed, the next operation first probes the store (a
   * `check([])`, which changes nothing): if the probe answers within `probeWaitMs` the breaker closes and the
   * operation runs; otherwise the operation is refused like the others and the probe goes on in the
   * background. The operation's own error is passed on as is (and opens the breaker, unless it is a
   * `RangeError`: a caller's mistake says nothing about the store's health).
   */
  run<T>(operation: (store: BudgetStore) => Promise<T>, options?: GuardedRunOptions): Promise<T>;
  /** Whether the breaker is open: operations are being refused until a probe succeeds. */
  isDown(): boolean;
}

const guards = new WeakMap<BudgetStore, StoreGuard>();

/**
 * The circuit breaker of `store`: one per store instance, shared by every budget that uses the store, so the
 * whole process learns of an outage from the first operation that meets it.
 *
 * Why a breaker: a store that is down makes each operation wait for its timeout (a second or more with
 * `RedisBudgetStore`), so every call of every run would stall that long just to be refused. Open, the guard
 * refuses at once, and calls fail closed (or fall back) without waiting.
 *
 * How it recovers: after `probeIntervalMs` (1 s: an outage costs at most about a second of refusals once the
 * store is back, and a down store sees one probe a second, not a stampede), the next operation sends a probe
 * (`check([])`, which changes nothing: a refused operation must never leave a hold behind) and waits for it at
 * most `probeWaitMs` (3 ms); while probes fail the interval doubles up to `maxProbeIntervalMs` (30 s). One
 * probe at a time; no caller ever waits for a down store's timeout, the probe does, in the background.
 *
 * The guard bounds nothing by itself: the store's own operations must time out (`RedisBudgetStore` does), or
 * a probe that never ends keeps the breaker open.
 *
 * @example
 * ```ts
 * const guard = storeGuard(store);
 * const { states } = await guard.run((s) => s.check(limits));   // StoreDownError at once while Redis is down
 * ```
 */
export function storeGuard(store: BudgetStore, options: StoreGuardOptions = {}): StoreGuard {
  let guard = guards.get(store);
  if (!guard) {
    guard = new Breaker(store, options);
    guards.set(store, guard);
  }
  return guard;
}

const guardOptions = z.strictObject({
  clock: aFunction<() => number>().optional(),
  probeIntervalMs: z.number().finite().positive().optional(),
  maxProbeIntervalMs: z.number().finite().positive().optional(),
  probeWaitMs: z.number().finite().nonnegative().optional(),
});

type BreakerState =
  | { open: false }
  | { open: true; since: number; cause: unknown; interval: number; nextProbeAt: number; probing: boolean };

class Breaker implements StoreGuard {
  private state: BreakerState = { open: false };
  /** Bumped when the breaker closes: answers to operations begun before that are old news. */
  private epoch = 0;
  private readonly clock: () => number;
  private readonly probeIntervalMs: number;
  private readonly maxProbeIntervalMs: number;
  private readonly probeWaitMs: number;

  constructor(
    private readonly store: BudgetStore,
    options: StoreGuardOptions,
  ) {
    const parsed = parseOptions(guardOptions, options, "storeGuard()", "");
    this.clock = parsed.clock ?? Date.now;
    this.probeIntervalMs = parsed.probeIntervalMs ?? 1000;
    this.maxProbeIntervalMs = Math.max(this.probeIntervalMs, parsed.maxProbeIntervalMs ?? 30_000);
    this.probeWaitMs = parsed.probeWaitMs ?? 3;
  }

  isDown(): boolean {
    return this.state.open;
  }

  run<T>(operation: (store: BudgetStore) => Promise<T>, { recovers = true }: GuardedRunOptions = {}): Promise<T> {
    const state = this.state;
    if (!state.open) return this.attempt(operation, false);
    const now = this.clock();
    if (!recovers || state.probing || now < state.nextProbeAt) return Promise.reject(this.refusal(now));
    state.probing = true;
    return this.probeThen(operation);
  }

  /** Probes the store; runs `operation` if the probe answers within `probeWaitMs`, else refuses it. */
  private async probeThen<T>(operation: (store: BudgetStore) => Promise<T>): Promise<T> {
    const probe = this.attempt((store) => store.check([]), true);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const verdict = await Promise.race([
      probe.then(
        () => "up" as const,
        () => "down" as const,
      ),
      new Promise<"slow">((resolve) => {
        timer = setTimeout(() => resolve("slow"), this.probeWaitMs);
        (timer as { unref?: () => void }).unref?.();
      }),
    ]);
    clearTimeout(timer);
    if (verdict === "up" && !this.state.open) return this.attempt(operation, false);
    throw this.refusal(this.clock());
  }

  private refusal(now: number): StoreDownError {
    const state = this.state;
    if (!state.open) return new StoreDownError(undefined, now, now, now);
    return new StoreDownError(state.cause, state.since, state.nextProbeAt, now);
  }

  private async attempt<T>(operation: (store: BudgetStore) => Promise<T>, probe: boolean): Promise<T> {
    const epoch = this.epoch;
    let result: T;
    try {
      result = await operation(this.store);
    } catch (error) {
      this.failed(error, epoch, probe);
      throw error;
    }
    if (probe) this.close();
    return result;
  }

  private failed(error: unknown, epoch: number, probe: boolean): void {
    const state = this.state;
    if (error instanceof RangeError) {
      // A caller's mistake (a bad amount, a reused call id): nothing learnt about the store. A probe's slot
      // is handed to the next operation.
      if (probe && state.open) state.probing = false;
      return;
    }
    // A failure of an operation begun before the breaker last closed doesn't reopen it: the probe since is
    // newer evidence that the store answers.
    if (epoch !== this.epoch) return;
    const now = this.clock();
    if (!state.open) {
      this.state = { open: true, since: now, cause: error, interval: this.probeIntervalMs, nextProbeAt: now + this.probeIntervalMs, probing: false };
      return;
    }
    state.cause = error;
    if (probe) {
      state.interval = Math.min(state.interval * 2, this.maxProbeIntervalMs);
      state.nextProbeAt = now + state.interval;
      state.probing = false;
    }
  }

  private close(): void {
    this.state = { open: false };
    this.epoch++;
  }
}
