import type { BudgetView } from "../../budget/cost-record.js";
import type { BudgetExceededError } from "../../budget/errors.js";
import { nanoToUsd, usdToNano } from "../../pricing/money.js";

/** @internal The budget's view of a call it stopped, from the error alone. */
export function stopView(error: BudgetExceededError): BudgetView {
  return {
    decision: error.stop,
    limitUsd: error.limitUsd,
    spentUsd: error.spentUsd,
    remainingUsd: nanoToUsd(Math.max(0, usdToNano(error.limitUsd) - usdToNano(error.spentUsd))),
  };
}
