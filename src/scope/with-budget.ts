import type { CallbackManager } from "@langchain/core/callbacks/manager";
import { Runnable, type RunnableConfig } from "@langchain/core/runnables";
import { combineSignals } from "../budget/combined-signal.js";
import { isAbortError } from "../langchain/call-errors.js";
import { HANDLER_BUDGET } from "../langchain/call-options.js";
import { BudgetCallbackHandler, type BudgetCallbackHandlerOptions } from "./budget-handler.js";

/** Where `withBudget`'s options were given, for its handlers' errors. */
const ENTRY = "withBudget()";

/**
 * Wraps a runnable (a chain, a graph, an agent, a model) so that every invocation gets a fresh budget:
 * its own `BudgetCallbackHandler`, whose signal is merged with the caller's, and whose aborts surface as the
 * `BudgetExceededError`. For budgeting a scope made of any chat models, not only metered ones.
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
  new BudgetCallbackHandler(options, ENTRY); // validate now, not at the first invocation
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
    const budget = new BudgetCallbackHandler(this.options, ENTRY);
    const { config: budgeted, dispose } = withHandler(config, budget);
    try {
      return await this.bound.invoke(input, budgeted);
    } catch (error) {
      throw budgetErrorOr(error, budget);
    } finally {
      dispose();
    }
  }

  override async *_streamIterator(input: RunInput, config?: Partial<RunnableConfig>): AsyncGenerator<RunOutput> {
    const budget = new BudgetCallbackHandler(this.options, ENTRY);
    const { config: budgeted, dispose } = withHandler(config, budget);
    try {
      yield* await this.bound.stream(input, budgeted);
    } catch (error) {
      throw budgetErrorOr(error, budget);
    } finally {
      dispose();
    }
  }
}

/** The caller's config with this invocation's budget in place of any other budget, and its signal merged in. */
function withHandler<T extends RunnableConfig>(config: Partial<T> | undefined, budget: BudgetCallbackHandler) {
  const combined = config?.signal ? combineSignals(config.signal, budget.signal) : { signal: budget.signal, dispose: () => {} };
  return { config: { ...config, callbacks: replaceBudget(config?.callbacks, budget), signal: combined.signal } as Partial<T>, dispose: combined.dispose };
}

const isBudgetHandler = (handler: unknown) => (handler as { [HANDLER_BUDGET]?: unknown } | null)?.[HANDLER_BUDGET] !== undefined;

/** A run's callbacks with `budget` in place of any budget handler they had. */
function replaceBudget(callbacks: RunnableConfig["callbacks"], budget: BudgetCallbackHandler): RunnableConfig["callbacks"] {
  if (!callbacks) return [budget];
  if (Array.isArray(callbacks)) return [...callbacks.filter((handler) => !isBudgetHandler(handler)), budget];
  const manager = (callbacks as CallbackManager).copy();
  for (const handler of manager.handlers) if (isBudgetHandler(handler)) manager.removeHandler(handler);
  manager.addHandler(budget, true);
  return manager;
}

function budgetErrorOr(error: unknown, budget: BudgetCallbackHandler): unknown {
  return budget.signal.aborted && isAbortError(error) ? budget.signal.reason : error;
}
