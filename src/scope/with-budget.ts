import { Runnable, type RunnableConfig } from "@langchain/core/runnables";
import { isAbortError } from "./abort.js";
import { BudgetCallbackHandler, type BudgetCallbackHandlerOptions } from "./budget-handler.js";
import { replaceBudget } from "./callbacks.js";

/**
 * Wraps a runnable (a chain, a graph, an agent, a model) so that every invocation gets a fresh budget:
 * its own `BudgetCallbackHandler`, whose signal is merged with the caller's, and whose aborts surface as the
 * `BudgetExceededError`. For budgeting a scope made of any chat models, not only `MeteredChatModel`s.
 *
 * @example
 * ```ts
 * const agent = withBudget(createAgent({ model, tools }), { limitUsd: 0.5, hardCap: true });
 * await agent.invoke({ messages }); // at most $0.50, per invocation
 * ```
 */
export function withBudget<RunInput, RunOutput>(
  runnable: Invocable<RunInput, RunOutput>,
  options: BudgetCallbackHandlerOptions = {},
): Runnable<RunInput, RunOutput> {
  new BudgetCallbackHandler(options); // validate now, not at the first invocation
  return new BudgetedRunnable(runnable, options);
}

/**
 * Anything invoked like a runnable: a chain, a compiled graph, or what `createAgent` returns (which is not a
 * `Runnable` subclass, but has `invoke` and `stream`).
 */
export interface Invocable<RunInput, RunOutput> {
  invoke(input: RunInput, config?: any): Promise<RunOutput>;
  stream(input: RunInput, config?: any): Promise<AsyncIterable<any>>;
}

class BudgetedRunnable<RunInput, RunOutput> extends Runnable<RunInput, RunOutput> {
  override lc_namespace = ["langchain_metered", "budget"];

  constructor(
    private readonly bound: Invocable<RunInput, RunOutput>,
    private readonly options: BudgetCallbackHandlerOptions,
  ) {
    super();
  }

  static override lc_name() {
    return "BudgetedRunnable";
  }

  override async invoke(input: RunInput, config?: Partial<RunnableConfig>): Promise<RunOutput> {
    const budget = new BudgetCallbackHandler(this.options);
    try {
      return await this.bound.invoke(input, budgeted(config, budget));
    } catch (error) {
      throw budgetErrorOr(error, budget);
    }
  }

  override async *_streamIterator(input: RunInput, config?: Partial<RunnableConfig>): AsyncGenerator<RunOutput> {
    const budget = new BudgetCallbackHandler(this.options);
    try {
      yield* await this.bound.stream(input, budgeted(config, budget));
    } catch (error) {
      throw budgetErrorOr(error, budget);
    }
  }
}

/** The caller's config with this invocation's budget in place of any other budget, and its signal merged in. */
function budgeted<T extends RunnableConfig>(config: Partial<T> | undefined, budget: BudgetCallbackHandler): Partial<T> {
  const signal = config?.signal ? AbortSignal.any([config.signal, budget.signal]) : budget.signal;
  return { ...config, callbacks: replaceBudget(config?.callbacks, budget), signal } as Partial<T>;
}

function budgetErrorOr(error: unknown, budget: BudgetCallbackHandler): unknown {
  return budget.signal.aborted && isAbortError(error) ? budget.signal.reason : error;
}

