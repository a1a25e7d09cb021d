import type { RunnableConfig } from "@langchain/core/runnables";
import type { BudgetCallbackHandler } from "../budget/budget-handler.js";
import { findBudget, replaceBudget } from "../budget/callbacks.js";
import type { CallBudget } from "./call-budget.js";

// Symbol.for: every entry point of the built package (and an integration reading it) sees the same key.
const CARRIED_BUDGET = Symbol.for("langchain-metered.budget");
const CARRIED_METADATA = Symbol.for("langchain-metered.metadata");
type Carried = { [CARRIED_BUDGET]?: BudgetCallbackHandler; [CARRIED_METADATA]?: Record<string, unknown> };

/**
 * @internal Plain `streamEvents()` drops the run's callbacks before the call: a metered model carries the
 * budget among them across in the call options (under a symbol, so no provider sees it).
 */
export function carryBudget(config: RunnableConfig, callOptions: object): void {
  const budget = findBudget(config.callbacks);
  if (budget) (callOptions as Carried)[CARRIED_BUDGET] = budget;
  // ...and the run's metadata, which fills quota keys.
  if (config.metadata) (callOptions as Carried)[CARRIED_METADATA] = config.metadata;
}

/** @internal The budget `carryBudget` put in the call options, if any. */
export function carriedBudget(callOptions: object): BudgetCallbackHandler | undefined {
  return (callOptions as Carried)[CARRIED_BUDGET];
}

/** @internal The run metadata `carryBudget` put in the call options, if any. */
export function carriedMetadata(callOptions: object): Record<string, unknown> | undefined {
  return (callOptions as Carried)[CARRIED_METADATA];
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
