import { nanoToUsd } from "../pricing/money.js";
import { BudgetStoreUnavailableError } from "./errors.js";
import { type Quota, resolveQuotas } from "./quotas.js";
import type { BudgetStore } from "./store.js";
import { type QuotaWindow, windowAt } from "./windows.js";

/** One quota as it stands for a run's metadata: what its current window has spent, holds and has left. */
export interface QuotaStatus {
  /** The quota's key, filled from the metadata (`tenant:acme`). */
  key: string;
  /** The quota's key template (`tenant:{tenant}`). */
  quota: string;
  window: QuotaWindow;
  limitUsd: number;
  /** Settled costs in the current window (expired holds included: a dead worker's calls count at their worst case). */
  spentUsd: number;
  /** Held by calls in flight under a hard cap. */
  heldUsd: number;
  /** What a new call may still commit: the limit less spend and holds, at least 0. */
  remainingUsd: number;
  /** When the window ends and the quota starts again from 0; `undefined` for a `"total"` quota. */
  resetsAt: Date | undefined;
}

/**
 * @internal Reads each quota's standing for `metadata` from the store in use, by the store's clock. A store
 * that can't be reached is a `BudgetStoreUnavailableError`; a metadata field a key needs, a `QuotaKeyError`.
 */
export async function readQuotaStatus(quotas: readonly Quota[], store: BudgetStore, metadata: Record<string, unknown> | undefined): Promise<QuotaStatus[]> {
  if (quotas.length === 0) return [];
  const read = async <T>(operation: () => Promise<T>): Promise<T> => {
    try {
      return await operation();
    } catch (error) {
      throw new BudgetStoreUnavailableError(error, true);
    }
  };
  const now = await read(() => store.now());
  // One limit per quota (not merged as for a call): each quota reports its own limit and window.
  const limits = await Promise.all(quotas.map(async (quota) => (await resolveQuotas([quota], metadata, now))[0]!));
  const { states } = await read(() => store.check(limits));
  return quotas.map((quota, i) => {
    const state = states[i]!;
    const held = state.reservedNano;
    return {
      key: limits[i]!.scope,
      quota: quota.key,
      window: quota.window,
      limitUsd: nanoToUsd(state.limitNano),
      spentUsd: nanoToUsd(state.spentNano),
      heldUsd: nanoToUsd(held),
      remainingUsd: nanoToUsd(Math.max(0, state.limitNano - state.spentNano - held)),
      resetsAt: dateOf(windowAt(quota.window, now, quota.timeZone).endsAt),
    };
  });
}

const dateOf = (epochMs: number | undefined): Date | undefined => (epochMs === undefined ? undefined : new Date(epochMs));
