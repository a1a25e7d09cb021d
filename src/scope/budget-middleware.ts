/**
 * `langchain-metered/agents`: a budget for `createAgent` runs, as LangChain v1 agent middleware. Only this
 * entry loads `langchain` (an optional peer).
 */
import { AIMessage, type BaseMessage } from "@langchain/core/messages";
import { createMiddleware } from "langchain";
import { z } from "zod";
import { Budget } from "../budget/budget.js";
import { parseOptions } from "../validation.js";
import { budgetOptionsShape, type BudgetOptions, budgetSettings } from "../budget/settings.js";
import { costOf, priceCall, servedModelOf } from "../langchain/price-call.js";
import { currentRunScope } from "../langchain/run-scope.js";
import { catalogFor } from "../pricing/catalog.js";
import type { PriceOverrides } from "../pricing/overrides.js";
import { resolveProvider } from "../pricing/providers.js";

/** Options of {@link budgetMiddleware}: a budget's limits (see `BudgetOptions`), and what happens at the limit. */
export interface BudgetMiddlewareOptions extends BudgetOptions {
  /**
   * What the agent does once its run's budget is spent, as `modelCallLimitMiddleware` does at its limit:
   * `"end"` (default) ends the run gracefully with a final message saying the budget was reached (the call
   * that crossed the limit keeps its answer; the next one is not sent); `"error"` throws `BudgetExceededError`.
   */
  exitBehavior?: "end" | "error";
  /** Prices that add to or replace genai-prices' data, for the agent's models, in USD per 1M tokens. */
  prices?: PriceOverrides;
}

const middlewareOptions = z.strictObject({
  ...budgetOptionsShape,
  exitBehavior: z.enum(["end", "error"]).optional(),
  prices: z.record(z.string(), z.unknown()).optional(),
});

/**
 * A budget for every run of a `createAgent` agent ($2 by default), in place of its models' own: metered
 * models (`MeteredChatModel`, `meter()`) report to it as they run, and any other chat model's answer is
 * priced from its usage after the call. Each `agent.invoke` is a run with a budget of its own.
 *
 * @example
 * ```ts
 * import { budgetMiddleware } from "langchain-metered/agents";
 * const agent = createAgent({ model, tools, middleware: [budgetMiddleware({ limitUsd: 0.5 })] });
 * const { messages } = await agent.invoke(input); // ends with "… budget is spent …" at $0.50
 * ```
 */
export function budgetMiddleware(options: BudgetMiddlewareOptions = {}) {
  const parsed = parseOptions(middlewareOptions, options, "budgetMiddleware", "");
  const exit = parsed.exitBehavior ?? "end";
  const settings = budgetSettings(parsed, "run", { endGracefully: exit === "end" });
  const catalog = catalogFor(options.prices);
  const owner = {}; // this middleware's budget, one per run

  /** The run's budget, made by this middleware at the run's first model call and set over the whole run. */
  const runBudget = (): Budget => {
    const scope = currentRunScope();
    if (!scope) return new Budget(settings, true); // no run scopes here: a budget per call (see the README)
    const budget = scope.budget(owner, () => new Budget(settings, true));
    scope.explicit ??= budget;
    return budget;
  };

  return createMiddleware({
    name: "BudgetMiddleware",
    beforeModel: {
      canJumpTo: ["end"],
      hook: () => {
        const budget = runBudget();
        if (!budget.stopError && !budget.ledger.exhausted) return undefined;
        const stop = budget.stopError ?? budget.stop("refused");
        if (exit === "error") throw stop;
        return { jumpTo: "end", messages: [new AIMessage({ content: stop.message, response_metadata: { budgetStop: { stop: stop.stop, limitUsd: stop.limitUsd, spentUsd: stop.spentUsd } } })] };
      },
    },
    afterModel: async (state: { messages: BaseMessage[] }) => {
      // A metered model charged the run's budget itself; any other model's answer is priced here.
      const reply = state.messages.at(-1);
      if (!reply || reply.getType() !== "ai" || costOf(reply)) return undefined;
      const model = servedModelOf(reply);
      if (!model) return undefined;
      const budget = runBudget();
      const provider = resolveProvider({ lsProvider: (reply.response_metadata as { model_provider?: string } | undefined)?.model_provider });
      const messages = state.messages.slice(0, -1);
      const ticket = await budget.open({ model, provider });
      ticket.markSent();
      const priced = await priceCall(catalog, { messages, reply, usage: (reply as AIMessage).usage_metadata, model, provider, entry: "budgetMiddleware()" });
      await ticket.settle(priced); // past the limit: throws ("error"), or the next beforeModel ends the run ("end")
      return undefined;
    },
  });
}
