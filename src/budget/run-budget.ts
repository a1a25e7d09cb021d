import { registerConfigureHook } from "@langchain/core/context";
import { usdToNano } from "../pricing/money.js";
import { BudgetCallbackHandler } from "./budget-handler.js";
import type { AdoptedSettings } from "./spending.js";

/** Set to "false" to turn off the per-run default budget (models then use their fallback scope). */
export const RUN_BUDGET_ENV = "LANGCHAIN_METERED_RUN_BUDGET";

/**
 * @internal The budget LangChain creates for every root run (an `agent.invoke`, a chain, a bare
 * `model.invoke`); children inherit it. It starts without a limit, so runs that never reach a
 * `MeteredChatModel` are only counted, never stopped; the first metered model that runs in it gives it
 * the model's limit.
 */
export class RunBudgetHandler extends BudgetCallbackHandler {
  protected override initialLimit(): undefined {
    return undefined;
  }

  override adopt(limitUsd: number, settings: Omit<AdoptedSettings, "limitNano"> = {}): void {
    this.spending.adopt({ ...settings, limitNano: usdToNano(limitUsd) });
  }
}

let registered = false;

/**
 * @internal Registers the per-run budget with LangChain's callback configuration, once per copy of this
 * package. The hook list lives in the async context current at first import: import the library at
 * start-up, before servers and timers are created.
 */
export function registerRunBudget(): void {
  if (registered) return;
  registered = true;
  process.env[RUN_BUDGET_ENV] ??= "true";
  registerConfigureHook({ handlerClass: RunBudgetHandler, envVar: RUN_BUDGET_ENV });
}
