import { BudgetCallbackHandler } from "../../budget/budget-handler.js";
import type { BudgetView, CostRecord } from "../../budget/cost-record.js";
import type { BudgetExceededError } from "../../budget/errors.js";
import { nanoToUsd, usdToNano } from "../../pricing/money.js";

/**
 * @internal The budget a call ran under, as far as a callback handler can see it.
 *
 * LangChain runs every handler with its AsyncLocalStorage cleared (`consumeCallback` wraps each call in
 * `run(undefined, …)`), and hands no handler the list of its siblings, so a Langfuse handler can't look the
 * run's budget up itself. A `MeteredChatModel` carries the budget it found among the run's callbacks in its
 * call options, which LangChain passes to every handler as `extraParams.options`: take it from there. It sits
 * under a module-local symbol, and every entry point bundles its own copy of that module, so match the value
 * (a budget handler, recognized across copies), not the key.
 */
export function carriedBudget(extraParams: Record<string, unknown> | undefined): BudgetCallbackHandler | undefined {
  const options = extraParams?.options;
  if (typeof options !== "object" || options === null) return undefined;
  for (const key of Object.getOwnPropertySymbols(options)) {
    const value = (options as Record<symbol, unknown>)[key];
    if (BudgetCallbackHandler.isBudgetHandler(value)) return value;
  }
  return undefined;
}

/** @internal The budget's record of a call (the latest, should a call be settled twice). */
export function recordOf(budget: BudgetCallbackHandler | undefined, runId: string): CostRecord | undefined {
  const records = budget?.records ?? [];
  for (let i = records.length - 1; i >= 0; i--) if (records[i]?.runId === runId) return records[i];
  return undefined;
}

/** @internal The budget's view of a call it stopped, from the error alone (when its record can't be found). */
export function stopView(error: BudgetExceededError): BudgetView {
  return {
    decision: error.stop,
    limitUsd: error.limitUsd,
    spentUsd: error.spentUsd,
    remainingUsd: nanoToUsd(Math.max(0, usdToNano(error.limitUsd) - usdToNano(error.spentUsd))),
  };
}
