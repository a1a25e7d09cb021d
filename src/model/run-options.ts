import type { RunnableConfig } from "@langchain/core/runnables";
import type { BudgetCallbackHandler } from "../budget/budget-handler.js";
import { findBudget, replaceBudget } from "../budget/callbacks.js";
import type { CallBudget } from "./call-budget.js";

// Symbol.for: every entry point of the built package (and an integration reading it) sees the same key.
const CARRIED_BUDGET = Symbol.for("langchain-metered.budget");
type CarriedBudget = { [CARRIED_BUDGET]?: BudgetCallbackHandler };

/**
 * @internal Plain `streamEvents()` drops the run's callbacks before the call: a metered model carries the
 * budget among them across in the call options (under a symbol, so no provider sees it).
 */
export function carryBudget(config: RunnableConfig, callOptions: object): void {
  const budget = findBudget(config.callbacks);
  if (budget) (callOptions as CarriedBudget)[CARRIED_BUDGET] = budget;
}

/** @internal The budget `carryBudget` put in the call options, if any. */
export function carriedBudget(callOptions: object): BudgetCallbackHandler | undefined {
  return (callOptions as CarriedBudget)[CARRIED_BUDGET];
}

/**
 * @internal `batch` makes each input a root run of its own; runs split that way still share one budget,
 * as one run would. Returns the options to pass on (unchanged when the caller brought a budget).
 */
export function sharedBatchBudget<O extends RunnableConfig>(
  budget: CallBudget,
  inputs: readonly unknown[],
  options: Partial<O> | Partial<O>[] | undefined,
): Partial<O> | Partial<O>[] | undefined {
  const list: Partial<O>[] = Array.isArray(options) ? options : inputs.map(() => options ?? {});
  if (list.some((config) => findBudget(config.callbacks))) return options;
  const shared = budget.runBudget();
  if (!shared) return options;
  return list.map((config) => ({ ...config, callbacks: replaceBudget(config.callbacks, shared) }) as Partial<O>);
}
