import type { NanoUsd } from "../pricing/money.js";
import type { Budget } from "./budget.js";
import { localFallback } from "./process-stores.js";
import type { ResolvedQuota } from "./quotas.js";
import type { BudgetStore, LimitState } from "./store.js";
import { storeGuard } from "./store-guard.js";

/** How long an end of a call the store did not take is redelivered: well within how long stores remember ended calls (24 h by default). */
const REDELIVER_FOR_MS = 60 * 60 * 1000;

/** Ends of calls being redelivered to their store (see `QuotaSide.redeliver`). */
const redeliveries = new Set<Promise<void>>();

/**
 * @internal One call's side in its quota store: its hold, and its end (settle or release), which must
 * reach the store once the call may hold there. A reserve that timed out can still land (a frozen Redis, a
 * client's offline queue), and a hold that is never ended expires and is charged at its worst case, while
 * the log records the call's cost (or $0). So an end the store didn't take now (down, timed out, refused by
 * its circuit breaker) is redelivered in the background until the store answers. Settle and release count
 * once per call id, so a redelivery that lands after the original, or twice, changes nothing.
 */
export class QuotaSide {
  /** A reserve was sent to the budget's own (shared) store: the call may hold there, answered or not. */
  private mayHold = false;
  /** The store failed and this process's own view took the call (under "allow"): it ends there. */
  private local = false;

  constructor(
    private readonly budget: Budget,
    private readonly id: string,
    private readonly limits: readonly ResolvedQuota[],
  ) {}

  /** Holds `amount` in every quota; the states that refused it, if the store did. Throws the store's failure. */
  async hold(amount: NanoUsd): Promise<LimitState[] | undefined> {
    const shared = this.budget.current.store;
    const ttl = this.budget.current.reservationTtlMs;
    // Once local, a call stays local: its release in the store, still on its way, must not meet a new hold.
    if (this.local) {
      const reply = await localFallback().reserve(this.id, this.limits, amount, ttl);
      return reply.refused ? reply.states : undefined;
    }
    const { value: reply, shared: answered } = await this.inStore((store) => {
      if (store === shared) this.mayHold = true;
      return store.reserve(this.id, this.limits, amount, ttl);
    });
    // Under "allow", a store that failed leaves the call to this process's own view: it is counted there
    // only, never settled in the store, which did not check its room (a user's quota on a Redis Cluster, in
    // a slot that answered, went over its limit that way). A reserve that reached the store and may still
    // land (or, on a cluster, the limits held before the one that failed) is released there.
    this.local = !answered;
    if (this.local && this.mayHold) this.releaseInStore();
    if (this.local || reply.refused) this.mayHold = false;
    return reply.refused ? reply.states : undefined;
  }

  /** After a hold that failed: a reserve that may still land is released, now and until the store answers. */
  abandonHold(then: () => Promise<void>): Promise<void> | void {
    if (!this.mayHold) return then();
    this.releaseInStore(then);
  }

  /**
   * Charges `cost` in every quota; the states after it. A store that fails here still gets the settle
   * (redelivered); meanwhile the call counts in this process's own view, rather than lose its answer.
   */
  async settle(cost: NanoUsd): Promise<LimitState[]> {
    const settle = (store: BudgetStore) => store.settle(this.id, this.limits, cost);
    if (this.local) return settle(localFallback());
    try {
      const { value, shared } = await this.inStore(settle);
      // Under "allow", a failed settle fell back to the local view: the shared store must still hear of it.
      if (!shared && this.mayHold) this.redeliver(settle);
      return value;
    } catch {
      if (this.mayHold) this.redeliver(settle);
      return localFallback().settle(this.id, this.limits, cost);
    }
  }

  /** Drops the call's hold in every quota; `then` runs once the store took it (the log's $0 line). */
  async release(then: () => Promise<void>): Promise<void> {
    if (this.local) {
      await this.releaseIn(localFallback());
      return then();
    }
    const shared = await this.inStore(this.releaseIn).then(
      (done) => done.shared,
      () => false,
    );
    // Until the store took it, the log's last line ("held") is what the store would charge if this process died.
    if (!shared && this.mayHold) return this.redeliver(this.releaseIn, then);
    await then();
  }

  /** Releases the call in the budget's own store, now and, until the store answers, in the background. */
  private releaseInStore(then?: () => Promise<void>): void {
    void this.releaseIn(this.budget.current.store).catch(() => {});
    this.redeliver(this.releaseIn, then);
  }

  /** Drops the call's hold in `store`. */
  private readonly releaseIn = (store: BudgetStore) => store.release(this.id, this.limits);

  private async inStore<T>(operation: (store: BudgetStore) => Promise<T>): Promise<{ value: T; shared: boolean }> {
    const sharedStore = this.budget.current.store;
    let shared = false;
    const value = await this.budget.useStore(async (store) => {
      const answer = await operation(store);
      shared = store === sharedStore;
      return answer;
    });
    return { value, shared };
  }

  private redeliver(operation: (store: BudgetStore) => Promise<unknown>, then?: () => Promise<void>): void {
    const store = this.budget.current.store;
    const redelivery = (async () => {
      const giveUpAt = Date.now() + REDELIVER_FOR_MS;
      for (let pause = 100; Date.now() < giveUpAt; pause = Math.min(2 * pause, 1000)) {
        await new Promise<void>((resolve) => (setTimeout(resolve, pause) as { unref?: () => void }).unref?.());
        try {
          await storeGuard(store).run(operation);
        } catch (error) {
          if (error instanceof RangeError) return; // a caller's mistake: nothing to redeliver
          continue;
        }
        await then?.();
        return;
      }
    })();
    redeliveries.add(redelivery);
    void redelivery.finally(() => redeliveries.delete(redelivery));
  }
}

/**
 * Resolves once every end of a call that its quota store had not taken (a settlement or release that failed
 * while the store was down) has been redelivered, or given up after an hour. Redeliveries don't keep a
 * process alive: await this before a worker exits, or a dead worker's unfinished settlements are charged at
 * their holds' worst case when the holds expire.
 *
 * @example
 * ```ts
 * process.on("SIGTERM", async () => {
 *   await server.close();
 *   await pendingStoreEnds(); // every call's spend reached Redis
 *   await store.close();
 * });
 * ```
 */
export async function pendingStoreEnds(): Promise<void> {
  while (redeliveries.size) await Promise.allSettled([...redeliveries]);
}
