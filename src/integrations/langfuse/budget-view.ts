import type { BudgetView, CostRecord } from "../../budget/cost-record.js";
import { recordOfCost } from "../../budget/cost-record.js";
import type { BudgetExceededError } from "../../budget/errors.js";
import { costOf } from "../../langchain/price-call.js";
import { nanoToUsd, usdToNano } from "../../pricing/money.js";
import type { BaseMessage } from "@langchain/core/messages";

/**
 * @internal The budget's record of a call, from the cost a metered model put on its message: the cost
 * object is the record's own, so it leads back to the budget's view of the call (the run's budget, a
 * handler's or a middleware's), whichever found it.
 */
export function recordOfMessage(message: BaseMessage | undefined): CostRecord | undefined {
  return recordOfCost(costOf(message));
}

/** @internal The budget's view of a call it stopped, from the error alone. */
export function stopView(error: BudgetExceededError): BudgetView {
  return {
    decision: error.stop,
    limitUsd: error.limitUsd,
    spentUsd: error.spentUsd,
    remainingUsd: nanoToUsd(Math.max(0, usdToNano(error.limitUsd) - usdToNano(error.spentUsd))),
  };
}
