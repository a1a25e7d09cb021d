import { InMemoryBudgetStore } from "./memory-store.js";
import type { BudgetStore } from "./store.js";

/**
 * The two stores a process keeps for itself, made on first use (nothing runs at import): the default store
 * of quotas that were given none, and the local view of quotas kept while a shared store is down under
 * `onStoreError: "allow"`.
 */
let processStore: InMemoryBudgetStore | undefined;
let fallbackStore: InMemoryBudgetStore | undefined;

/** @internal Quotas without a store of their own share this one, so they hold across runs of the process. */
export function defaultStore(): BudgetStore {
  return (processStore ??= new InMemoryBudgetStore());
}

/** @internal Quotas kept while the shared store is down under `onStoreError: "allow"`: this process's own view. */
export function localFallback(): BudgetStore {
  return (fallbackStore ??= new InMemoryBudgetStore());
}
