import type { UsageMetadata } from "@langchain/core/messages";
import { normalizeUsage, type Usage } from "../usage/usage.js";
import { type PriceQuote, type PriceSource, catalogFor } from "./catalog.js";
import { type CostKey, costOfUsage } from "./cost.js";
import type { CompiledPrice, MissingRate } from "./model-price.js";
import { nanoToUsd, usdToNano } from "./money.js";
import type { PriceOverrides } from "./overrides.js";

/**
 * The approximate USD cost of one call, as put on `response_metadata.cost`. `details` are USD per usage
 * kind under Langfuse's usage key names and sum exactly to our figure (`totalUsd`, unless the cost the
 * endpoint reported is counted instead); `nanoUsd` is `totalUsd` as an integer count of 1e-9 USD, for
 * exact sums.
 */
export interface Cost {
  /** What the call counts as, in USD: our figure, or the endpoint's own when `counted` is "reported". */
  totalUsd: number;
  nanoUsd: number;
  details: Partial<Record<CostKey, number>>;
  /** The model that served the call, as the response named it (e.g. a dated snapshot), else as configured. */
  model: string;
  /** The genai-prices provider whose prices applied (e.g. "openai", "anthropic", "google", "groq"). */
  provider: string | undefined;
  priceSource: PriceSource;
  /** True when the usage was counted locally rather than reported, or a rate was missing (see `estimate` for why). */
  estimated: boolean;
  /**
   * Why the cost is an estimate: `"no-usage"` (the response carried none: counted locally), `"cut-short"` (a
   * stream stopped early or a call aborted after it was sent), `"failed"` (the call failed after it was sent:
   * a broken connection, a malformed answer), `"invalid-usage"` (the usage can't be trusted) or
   * `"unknown-price"` (the model that answered has no price). Those four are conservative: the whole input with
   * a safety margin, the output received, at the model's dearest rates. `"missing-rate"`: the usage was
   * reported, but the price has no rate for some of it (audio tokens of a model whose price data has no audio
   * rate, see `missingRates`), which is charged at the text rate: likely under.
   */
  estimate?: EstimateReason;
  /** With `estimate: "missing-rate"`: the kinds of token the price has no rate of its own for. */
  missingRates?: MissingRate[];
  /**
   * With `estimated`: the usage the estimate priced, shaped like LangChain's `usage_metadata`. The message's
   * own `usage_metadata` stays what the provider reported (none), exactly as on a plain ChatOpenAI.
   */
  estimatedUsage?: EstimatedUsage;
  /** Under a hard cap, when the call's max tokens were lowered to what the budget could pay for. */
  clamp?: { requestedMaxTokens: number; sentMaxTokens: number };
  /**
   * The cost the endpoint stated for the call (OpenRouter's `usage.cost`, a LiteLLM proxy's
   * `x-litellm-response-cost` header), when it stated one. Compare with `ourUsd` to see drift.
   */
  reportedUsd?: number;
  /** Our figure, from prices and usage; present beside `reportedUsd`. */
  ourUsd?: number;
  /** Which figure `totalUsd` is (and a budget counts); present beside `reportedUsd`. */
  counted?: CostSource;
  /** The model the call was meant for, when a budget downgrade sent it to `model` instead. */
  downgradedFrom?: string;
}

/** The usage behind an estimated cost (see `Cost.estimatedUsage`), in LangChain's `usage_metadata` terms. */
export interface EstimatedUsage {
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
}

/** @internal `usage` as `Cost.estimatedUsage`. */
export function estimatedUsageOf(usage: Usage): EstimatedUsage {
  return { input_tokens: usage.inputTokens, output_tokens: usage.outputTokens, total_tokens: usage.inputTokens + usage.outputTokens };
}

/** Why a cost is an estimate (see `Cost.estimate`). */
export type EstimateReason = "no-usage" | "cut-short" | "failed" | "invalid-usage" | "unknown-price" | "missing-rate";

export type { MissingRate } from "./model-price.js";

/** Which cost a budget counts when the endpoint reports its own: ours (default) or the reported one. */
export type CostSource = "ours" | "reported";

/** Options of {@link priceUsage}. */
export interface PriceUsageOptions {
  /** LangChain provider name (`ls_provider`), e.g. "openai", "anthropic", "google_genai". Inferred when absent. */
  provider?: string;
  /** Prices that add to or replace genai-prices' data, USD per 1M tokens. */
  prices?: PriceOverrides;
  /** When the call was made; picks between date-dependent prices. Defaults to now. */
  at?: Date;
  /** Marks the result as estimated (the usage was counted locally). */
  estimated?: boolean;
}

/**
 * Prices one call's usage for a model, for users who meter outside LangChain. Accepts LangChain's
 * `usage_metadata` or a normalized {@link Usage}. Throws `UnknownModelPriceError` for a model with no
 * price, never returns $0 for it.
 *
 * @example
 * ```ts
 * priceUsage({ input_tokens: 1000, output_tokens: 500, total_tokens: 1500 }, "gpt-4o-mini").totalUsd; // 0.00045
 * ```
 */
export function priceUsage(
  usage: Usage | Partial<UsageMetadata>,
  model: string,
  options: PriceUsageOptions = {},
): Cost {
  const normalized = "inputTokens" in usage ? (usage as Usage) : normalizeUsage(usage as Partial<UsageMetadata>, options.provider);
  const quote = catalogFor(options.prices).get(model, options.provider, options.at, { entry: "priceUsage()" });
  return costFromQuote(normalized, quote, model, options.estimated ? "no-usage" : undefined);
}

/** @internal Prices a usage with an already-resolved quote; `estimate` says why the usage was counted locally. */
export function costFromQuote(usage: Usage, quote: PriceQuote, model: string, estimate?: EstimateReason): Cost {
  const { totalNanoUsd, detailsNanoUsd } = costOfUsage(usage, quote.price);
  const details: Partial<Record<CostKey, number>> = {};
  for (const key in detailsNanoUsd) details[key as CostKey] = nanoToUsd(detailsNanoUsd[key as CostKey] ?? 0);
  const cost: Cost = {
    totalUsd: nanoToUsd(totalNanoUsd),
    nanoUsd: totalNanoUsd,
    details,
    model,
    provider: quote.provider,
    priceSource: quote.source,
    estimated: estimate !== undefined,
    ...(estimate ? { estimate, estimatedUsage: estimatedUsageOf(usage) } : {}),
  };
  const missing = missingRates(usage, quote.price);
  if (missing.length && !estimate) Object.assign(cost, { estimated: true, estimate: "missing-rate", missingRates: missing });
  return cost;
}

/** The kinds of token in `usage` that `price` has no rate of its own for (they fall back to the text rate). */
function missingRates(usage: Usage, price: CompiledPrice): MissingRate[] {
  const missing: MissingRate[] = [];
  if (usage.inputAudioTokens > 0 && !price.audioRates.input) missing.push("inputAudio");
  if (usage.outputAudioTokens > 0 && !price.audioRates.output) missing.push("outputAudio");
  return missing;
}

/**
 * @internal A cost with the endpoint's own figure beside ours; with `counted: "reported"`, the reported
 * figure becomes `totalUsd` (what budgets count). Our `details` stay as they were.
 */
export function withReportedCost(cost: Cost, reportedUsd: number | undefined, counted: CostSource): Cost {
  if (reportedUsd === undefined) return cost;
  const ourUsd = cost.totalUsd;
  if (counted === "ours") return { ...cost, reportedUsd, ourUsd, counted };
  return { ...cost, totalUsd: nanoToUsd(usdToNano(reportedUsd)), nanoUsd: usdToNano(reportedUsd), reportedUsd, ourUsd, counted };
}
