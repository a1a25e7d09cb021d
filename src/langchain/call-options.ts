import type { RunnableConfig } from "@langchain/core/runnables";
import type { Budget } from "../budget/budget.js";

/**
 * What a metered model puts in its call options: one object under a `Symbol.for` key (no provider sees it,
 * and every copy of this package, ESM or CJS, reads the same key). LangChain hands the call options to every
 * callback handler as `extraParams.options`, and keeps them when plain `streamEvents()` drops the run's
 * callbacks. One key for all of it: the options get one more property, whatever the call carries.
 */
const METERED_CALL = Symbol.for("langchain-metered.meteredCall");
/** The budget core of a budget callback handler, under this key on the handler itself. */
export const HANDLER_BUDGET = Symbol.for("langchain-metered.handlerBudget");

/** What a metered call carries: the run's budget handler's budget and the run's metadata, when it has them. */
interface Carried {
  budget?: Budget | undefined;
  metadata?: Record<string, unknown> | undefined;
}

type Marked = { [METERED_CALL]?: Carried };

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
  (callOptions as Marked)[METERED_CALL] = { budget: budgetOfCallbacks(config.callbacks), metadata: config.metadata };
}

/** @internal Whether call options belong to a metered model's call. */
export function isMeteredCall(callOptions: unknown): boolean {
  return typeof callOptions === "object" && callOptions !== null && (callOptions as Marked)[METERED_CALL] !== undefined;
}

/** @internal The budget `markMeteredCall` carried, if any. */
export function carriedBudget(callOptions: object): Budget | undefined {
  return (callOptions as Marked)[METERED_CALL]?.budget;
}

/** @internal The run metadata `markMeteredCall` carried, if any. */
export function carriedMetadata(callOptions: object): Record<string, unknown> | undefined {
  return (callOptions as Marked)[METERED_CALL]?.metadata;
}
