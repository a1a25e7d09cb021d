import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import { Budget } from "../budget/budget.js";
import { budgetSettings, type BudgetSettings } from "../budget/settings.js";
import { budgetOfHandlers, carriedBudget } from "../langchain/call-options.js";
import { currentRunScope, runScopesUnavailable } from "../langchain/run-scope.js";

/** The key under which a run keeps the budget its metered models share. */
const RUN_BUDGET = {};
/** What a `budget: false` model counts with: no limit, no quotas. */
let counting: BudgetSettings | undefined;
let warnedNoScopes = false;

/**
 * @internal The budget a metered call runs under, in this order:
 * 1. a `BudgetCallbackHandler` among the run's callbacks (or carried past plain `streamEvents()`);
 * 2. a budget set over this part of the run (`budgetMiddleware` around an agent's model call);
 * 3. the run's own budget, made by its first metered call with that model's `budget` settings (later
 *    models tighten it: see `Budget.adopt`), shared by every metered call of the run;
 * 4. a call that is its own run (a bare `invoke`, `stream`, each `batch` input) gets a budget of its own,
 *    with no callbacks and no abort signal: nothing else can be in flight in it.
 * A `budget: false` model joins only an explicit budget (1, 2); otherwise it only counts.
 */
export function budgetForCall(
  runManager: CallbackManagerForLLMRun | undefined,
  options: object,
  settings: BudgetSettings | undefined,
): Budget {
  const explicit = runManager ? budgetOfHandlers(runManager.handlers) : carriedBudget(options);
  if (explicit) return explicit;
  const scope = currentRunScope();
  if (scope?.explicit) return scope.explicit;
  if (!settings) return new Budget((counting ??= budgetSettings({}, "call", { noLimit: true })), false);
  if (!scope) {
    warnWithoutScopes(settings, runManager);
    return new Budget(settings, false);
  }
  const budget = scope.budget(RUN_BUDGET, () => new Budget(settings, true));
  budget.adopt(settings);
  return budget;
}

/**
 * Safe and loud: where runs can't get scopes (a runtime without AsyncLocalStorage, or LangChain internals
 * that moved), a metered call inside a larger run can't find the run's budget, so it gets its own. Say so
 * once, with the fix, the first time such a call shows it is nested (it has a parent run).
 */
function warnWithoutScopes(settings: BudgetSettings, runManager: CallbackManagerForLLMRun | undefined): void {
  const why = runScopesUnavailable();
  if (warnedNoScopes || !why || !runManager?.parentRunId) return;
  warnedNoScopes = true;
  const cause = why === "no-storage" ? "this runtime has no AsyncLocalStorage" : "this version of @langchain/core isn't supported for run scopes";
  const limit = settings.limitNano === undefined ? "" : ` of $${settings.limitNano / 1e9}`;
  console.warn(
    `langchain-metered: ${cause}, so each metered call inside a run gets a budget${limit} of its own instead of sharing the run's. ` +
      "To budget a whole run, add budgetMiddleware() to createAgent, wrap the runnable with withBudget(), or pass a " +
      "BudgetCallbackHandler in the run's callbacks.",
  );
}
