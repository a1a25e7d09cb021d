import type { RunnableConfig } from "@langchain/core/runnables";
import type { Budget } from "../budget/budget.js";

/**
 * What a metered model puts in its call options, under `Symbol.for` keys (no provider sees them, and every
 * copy of this package, ESM or CJS, reads the same key). LangChain hands the call options to every callback
 * handler as `extraParams.options`, and keeps them when plain `streamEvents()` drops the run's callbacks.
 */
const METERED_CALL = Symbol.for("langchain-metered.meteredCall");
const CARRIED_BUDGET = Symbol.for("langchain-metered.budget");
const CARRIED_METADATA = Symbol.for("langchain-metered.metadata");
/** The budget core of a budget callback handler, under this key on the handler itself. */
export const HANDLER_BUDGET = Symbol.for("langchain-metered.handlerBudget");

type Carried = {
  [METERED_CALL]?: true;
  [CARRIED_BUDGET]?: Budget;
  [CARRIED_METADATA]?: Record<string, unknown>;
};

/** @internal The budget of the first budget handler among `handlers`, if any (from any copy of this package). */
export function budgetOfHandlers(handlers: readonly unknown[] | undefined): Budget | undefined {
  if (!handlers) return undefined;
  for (const handler of handlers) {
    const budget = (handler as { [HANDLER_BUDGET]?: Budget } | null)?.[HANDLER_BUDGET];
    if (budget) return budget;
  }
  return undefined;
}

/** @internal The budget of a budget handler among a run's callbacks (a list or a callback manager), if any. */
export function budgetOfCallbacks(callbacks: RunnableConfig["callbacks"]): Budget | undefined {
  return budgetOfHandlers(Array.isArray(callbacks) ? callbacks : callbacks?.handlers);
}

/**
 * @internal Marks a metered model's call options: budget handlers leave the call to the model (it reports to
 * them itself), and the run's budget and metadata travel with the call past plain `streamEvents()`.
 */
export function markMeteredCall(config: RunnableConfig, callOptions: object): void {
  const carried = callOptions as Carried;
  carried[METERED_CALL] = true;
  const budget = budgetOfCallbacks(config.callbacks);
  if (budget) carried[CARRIED_BUDGET] = budget;
  if (config.metadata) carried[CARRIED_METADATA] = config.metadata;
}

/** @internal Whether call options belong to a metered model's call. */
export function isMeteredCall(callOptions: unknown): boolean {
  return typeof callOptions === "object" && callOptions !== null && (callOptions as Carried)[METERED_CALL] === true;
}

/** @internal The budget `markMeteredCall` carried, if any. */
export function carriedBudget(callOptions: object): Budget | undefined {
  return (callOptions as Carried)[CARRIED_BUDGET];
}

/** @internal The run metadata `markMeteredCall` carried, if any. */
export function carriedMetadata(callOptions: object): Record<string, unknown> | undefined {
  return (callOptions as Carried)[CARRIED_METADATA];
}
