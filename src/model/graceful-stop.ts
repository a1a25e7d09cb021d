import { AIMessage } from "@langchain/core/messages";
import type { Budget } from "../budget/budget.js";
import { BudgetExceededError } from "../budget/errors.js";

/**
 * A refusal by a budget that ends its run gracefully (`budgetMiddleware({ exitBehavior: "end" })`): the call
 * answers with a message saying the budget is spent instead of throwing, and an agent ends on it (the
 * message calls no tool).
 */
export class GracefulStop extends Error {
  constructor(readonly stop: BudgetExceededError) {
    super(stop.message);
  }
}

/** @internal `error`, or a `GracefulStop` when it is a refusal by a budget that ends its run gracefully. */
export function graceful(budget: Budget, error: unknown): unknown {
  return budget.current.endGracefully && BudgetExceededError.isInstance(error) ? new GracefulStop(error) : error;
}

/** @internal The answer of a call a graceful budget refused; any other error is rethrown. */
export function endingAnswer(error: unknown): AIMessage {
  if (!(error instanceof GracefulStop)) throw error;
  const { stop, scope, limitUsd, spentUsd } = error.stop;
  return new AIMessage({ content: error.stop.message, response_metadata: { budgetStop: { stop, scope, limitUsd, spentUsd } } });
}

/** @internal The budget's own error for a path that can't answer in its place (an event stream). */
export function ungraceful(error: unknown): unknown {
  return error instanceof GracefulStop ? error.stop : error;
}
