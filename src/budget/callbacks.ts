import type { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import type { CallbackManager, Callbacks } from "@langchain/core/callbacks/manager";
import { BudgetCallbackHandler } from "./budget-handler.js";

/** @internal The budget handler among a run's callbacks (a list or a callback manager), if any. */
export function findBudget(callbacks: Callbacks | undefined): BudgetCallbackHandler | undefined {
  const handlers = Array.isArray(callbacks) ? callbacks : callbacks?.handlers;
  return handlers?.find(BudgetCallbackHandler.isBudgetHandler);
}

/** @internal A run's callbacks with `budget` in place of any budget handler they had. */
export function replaceBudget(callbacks: Callbacks | undefined, budget: BudgetCallbackHandler): Callbacks {
  if (!callbacks) return [budget];
  if (Array.isArray(callbacks)) {
    return [...callbacks.filter((handler) => !BudgetCallbackHandler.isBudgetHandler(handler)), budget];
  }
  const manager = (callbacks as CallbackManager).copy();
  for (const handler of manager.handlers) {
    if (BudgetCallbackHandler.isBudgetHandler(handler)) manager.removeHandler(handler);
  }
  manager.addHandler(budget as BaseCallbackHandler, true);
  return manager;
}
