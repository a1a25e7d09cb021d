import type { BaseMessageLike } from "@langchain/core/messages";
import { coerceMessageLikeToMessage, HumanMessage } from "@langchain/core/messages";
import { costAtRates, DEFAULT_MAX_OUTPUT_TOKENS, withInputMargin, worstCaseNano } from "../budget/plan.js";
import { catalogFor } from "../pricing/catalog.js";
import { rateAt } from "../pricing/model-price.js";
import { nanoToUsd } from "../pricing/money.js";
import type { PriceOverrides } from "../pricing/overrides.js";
import { countInputTokens } from "./messages.js";

/** Options of {@link estimateCost}. */
export interface EstimateCostOptions {
  /** The most output tokens the call may write (its `maxTokens`). Default: the hard cap's default maximum, `DEFAULT_MAX_OUTPUT_TOKENS` (32,768). */
  maxTokens?: number;
  /** Choices asked for (`n`). Default 1. */
  choices?: number;
  /** Tool definitions sent with the call (they count as input). */
  tools?: unknown;
  /** The genai-prices provider whose prices apply ("openai", "anthropic", "google", "groq", …). */
  provider?: string;
  /** Prices that add to or replace genai-prices' data, USD per 1M tokens. */
  prices?: PriceOverrides;
}

/** What a call may cost before it is sent (see {@link estimateCost}). */
export interface CostEstimate {
  /** The prompt alone at the plain input rate, with no answer: what the call costs at the least, uncached. */
  minUsd: number;
  /**
   * The worst case: the input with the hard cap's safety margin and every output token, at the dearest rates:
   * what a hard cap holds for the call when it counts the prompt (near its limit, or with quotas; with plenty of
   * room it holds a bound from the prompt's bytes instead, which can be a little more).
   */
  maxUsd: number;
  /** The prompt's tokens, counted locally (without the safety margin). */
  inputTokens: number;
  /** The output tokens `maxUsd` allows for, per choice. */
  maxTokens: number;
}

/**
 * What a call may cost, before it is sent: the prompt counted locally and priced, and the worst case a hard
 * cap holds for it once it counts the prompt (`budget.reservedUsd` of such a call).
 *
 * @example
 * ```ts
 * const { minUsd, maxUsd } = await estimateCost("gpt-4o-mini", "Summarize this report: …", { maxTokens: 500 });
 * ```
 */
export async function estimateCost(model: string, input: string | readonly BaseMessageLike[], options: EstimateCostOptions = {}): Promise<CostEstimate> {
  const quote = catalogFor(options.prices).get(model, options.provider, undefined, { entry: "estimateCost()" });
  const messages = typeof input === "string" ? [new HumanMessage(input)] : input.map((message) => coerceMessageLikeToMessage(message));
  const inputTokens = await countInputTokens(messages, model, options.tools);
  const maxTokens = Math.max(0, Math.floor(options.maxTokens ?? DEFAULT_MAX_OUTPUT_TOKENS));
  const choices = Math.max(1, Math.floor(options.choices ?? 1));
  const plainInput = { input: rateAt(quote.price.input, inputTokens), output: 0n };
  return {
    minUsd: nanoToUsd(costAtRates(plainInput, inputTokens, 0)),
    maxUsd: nanoToUsd(worstCaseNano(quote.price, withInputMargin(inputTokens), maxTokens, choices)),
    inputTokens,
    maxTokens,
  };
}
