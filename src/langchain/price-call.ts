import type { BaseMessage, UsageMetadata } from "@langchain/core/messages";
import type { PricedCall } from "../budget/budget-call.js";
import { type CostRecord, recordOfCost } from "../budget/cost-record.js";
import { boundRates, costAtRates, withInputMargin } from "../budget/plan.js";
import { recordOfRun } from "../budget/run-records.js";
import type { PriceCatalog } from "../pricing/catalog.js";
import { UnknownModelPriceError } from "../pricing/errors.js";
import { nanoToUsd, usdToNano } from "../pricing/money.js";
import { genaiProviderId } from "../pricing/providers.js";
import { type Cost, type CostSource, costFromQuote, type EstimateReason, estimatedUsageOf, withReportedCost } from "../pricing/price-usage.js";
import { reportedCostOf } from "../pricing/reported-cost.js";
import { usageContract } from "../usage/providers.js";
import { type Usage, ZERO_USAGE } from "../usage/usage.js";
import { MAX_CALL_TOKENS, reportsUsage, usageProblems } from "../usage/validate.js";
import { contentText, countInputTokens, countOutputTokens } from "./messages.js";

/** @internal What one chat-model call produced, as far as pricing it is concerned. */
export interface CallOutcome {
  /** The request's messages (for a local count when the response has no usage). */
  messages: readonly BaseMessage[];
  /** The reply, or what was received of it. */
  reply?: BaseMessage | undefined;
  /** The response's `usage_metadata`; `undefined` when it carried none. */
  usage?: Partial<UsageMetadata> | undefined;
  /** The provider's raw usage (`response_metadata.usage`), when it isn't on `reply` (a stream's chunks). */
  rawUsage?: Readonly<Record<string, unknown>> | undefined;
  /** The model the response names (a dated snapshot), else the configured one. */
  model: string;
  provider: string | undefined;
  /** Tool definitions sent with the request (they count as input). */
  tools?: unknown;
  /** The cost the endpoint stated itself, if any (when not in the raw usage, e.g. a LiteLLM header). */
  reportedUsd?: number | undefined;
  /** Which cost counts when one was reported. Default "ours". */
  costSource?: CostSource | undefined;
  /** Where the model was configured, for an `UnknownModelPriceError` that says how to fix it. */
  entry?: string | undefined;
  /** The model the call was meant for, when a budget downgrade served it with `model`. */
  downgradedFrom?: string | undefined;
  /** The most output tokens the request allowed (all choices), when known: a usage above it is corrupt. */
  maxOutputTokens?: number | undefined;
  /**
   * When the call was made, for date- and time-dependent prices: the response's own time where the message
   * keeps it (the Responses API's `created_at`), else when the call was sent. Default: now.
   */
  at?: Date | undefined;
}

/** @internal Usage the library can't price (see `usageProblems`): the call is charged conservatively. */
export class UnpriceableUsage extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join("; "));
  }
}

/**
 * @internal Prices a call: reads its usage under its provider's contract (lifting what the provider package
 * left in the raw usage), or counts it locally when the response has none, and applies the price of the
 * model the response names. Throws `UnknownModelPriceError` rather than price it at $0, and
 * `UnpriceableUsage` for usage that isn't made of non-negative integer counts or contradicts itself.
 */
export async function priceCall(catalog: PriceCatalog, outcome: CallOutcome, at: Date = outcome.at ?? new Date()): Promise<PricedCall> {
  const raw = outcome.rawUsage ?? rawUsageOf(outcome.reply);
  const quote = catalog.find(outcome.model, outcome.provider, at);
  if (!quote) return pricedByReport(outcome, raw);
  let usage: Usage;
  let estimate: EstimateReason | undefined;
  // The provider's raw usage completes LangChain's where the package drops or mis-sums it (Anthropic's
  // server-tool streams, Gemini's thinking and tool-use prompts), and stands in for it where it lost it all.
  const contract = usageContract(outcome.provider);
  const lifted = contract.lift(outcome.usage ?? {}, raw);
  if (reportsUsage(lifted)) {
    const problems = usageProblems(lifted, outcome.maxOutputTokens);
    if (problems.length) throw new UnpriceableUsage(problems);
    usage = contract.normalize(lifted);
  } else {
    estimate = "no-usage";
    const [inputTokens, outputTokens] = await Promise.all([
      countInputTokens(outcome.messages, outcome.model, outcome.tools),
      countOutputTokens(outcome.reply, outcome.model),
    ]);
    usage = { ...ZERO_USAGE, inputTokens, outputTokens };
  }
  let cost: Cost;
  try {
    cost = costFromQuote(usage, quote, outcome.model, estimate);
  } catch (error) {
    // More cached than input tokens, more reasoning than output: the usage contradicts itself.
    if (error instanceof RangeError) throw new UnpriceableUsage([error.message]);
    throw error;
  }
  cost = withReportedCost(cost, outcome.reportedUsd ?? reportedCostOf(raw), outcome.costSource ?? "ours");
  return priced(outcome, usage, cost);
}

/**
 * A call no price covers: under `costSource: "reported"` the endpoint's own cost is the cost (with no
 * breakdown, and no figure of ours to compare); else, or with no report, `UnknownModelPriceError`.
 */
function pricedByReport(outcome: CallOutcome, raw: Readonly<Record<string, unknown>> | undefined): PricedCall {
  const reportedUsd = outcome.costSource === "reported" ? (outcome.reportedUsd ?? reportedCostOf(raw)) : undefined;
  if (reportedUsd === undefined) {
    throw new UnknownModelPriceError(outcome.model, outcome.provider, { entry: outcome.entry, reportMissing: outcome.costSource === "reported" });
  }
  const usage = reportsUsage(outcome.usage) && !usageProblems(outcome.usage, outcome.maxOutputTokens).length ? readUsage(outcome.usage, outcome.provider, raw) : ZERO_USAGE;
  const nanoUsd = usdToNano(reportedUsd);
  const cost: Cost = { totalUsd: nanoToUsd(nanoUsd), nanoUsd, details: {}, model: outcome.model, provider: genaiProviderId(outcome.provider), priceSource: "reported", estimated: false, reportedUsd, counted: "reported" };
  return priced(outcome, usage, cost);
}

/**
 * @internal What a call that may have been billed is charged when it can't be priced from its usage (it
 * failed or was cut short after it was sent, its usage is corrupt, the model that answered has no price):
 * the whole input counted locally with the safety margin, plus the output received (or reported, if more),
 * every token at the dearest rate the model can charge; under a hard cap, at least the call's hold (the
 * provider may have generated more than was received before it noticed). Marked estimated, never $0.
 * A call nothing prices (a model priced only by its endpoint's report, which didn't come) is charged
 * `unpricedNano`: what its run had left, so that the run spends nothing more.
 */
export async function conservativeCharge(
  catalog: PriceCatalog,
  outcome: CallOutcome,
  fallback: { model: string; provider: string | undefined },
  reason: EstimateReason,
  heldNano = 0,
  unpricedNano = 0,
): Promise<PricedCall> {
  const served = catalog.find(outcome.model, outcome.provider);
  const quote = served ?? catalog.find(fallback.model, fallback.provider);
  if (!quote) return unpricedCharge(outcome, reason, Math.max(heldNano, unpricedNano));
  const model = served ? outcome.model : fallback.model;
  const [counted, received] = await Promise.all([
    countInputTokens(outcome.messages, model, outcome.tools),
    countOutputTokens(outcome.reply, model),
  ]);
  const reported = outcome.usage?.output_tokens;
  const inputTokens = withInputMargin(counted);
  // A reported output count is taken only if it could be true: corrupt usage (1e15 tokens) priced at the
  // dearest rate gave a charge that is no safe integer, which the store refuses (RangeError) after the
  // ledger and the log already took it, leaving the call's hold in the store.
  const plausible =
    typeof reported === "number" &&
    Number.isSafeInteger(reported) &&
    reported >= 0 &&
    reported <= MAX_CALL_TOKENS &&
    (outcome.maxOutputTokens === undefined || reported <= outcome.maxOutputTokens);
  const outputTokens = Math.max(received, plausible ? reported : 0);
  const rates = boundRates(quote.price);
  const inputNano = costAtRates(rates, inputTokens, 0);
  const outputNano = costAtRates(rates, 0, outputTokens);
  const nanoUsd = Math.max(inputNano + outputNano, heldNano);
  // Details sum to the total: what the hold adds beyond the estimate counts as output (it is the output allowance).
  const details = { input: nanoToUsd(inputNano), output: nanoToUsd(nanoUsd - inputNano) };
  const cost: Cost = {
    totalUsd: nanoToUsd(nanoUsd),
    nanoUsd,
    details,
    model: outcome.model,
    provider: quote.provider,
    priceSource: quote.source,
    estimated: true,
    estimate: reason,
  };
  const usage = { ...ZERO_USAGE, inputTokens, outputTokens };
  cost.estimatedUsage = estimatedUsageOf(usage);
  return priced(outcome, usage, cost);
}

function unpricedCharge(outcome: CallOutcome, reason: EstimateReason, nanoUsd: number): PricedCall {
  const cost: Cost = {
    totalUsd: nanoToUsd(nanoUsd),
    nanoUsd,
    details: { output: nanoToUsd(nanoUsd) },
    model: outcome.model,
    provider: genaiProviderId(outcome.provider),
    priceSource: "unpriced",
    estimated: true,
    estimate: reason,
  };
  return priced(outcome, ZERO_USAGE, cost);
}

/** A priced call; a cost says which model the call was meant for when a downgrade served it. */
function priced(outcome: CallOutcome, usage: Usage, cost: Cost): PricedCall {
  if (outcome.downgradedFrom) cost.downgradedFrom = outcome.downgradedFrom;
  return { usage, cost };
}

/** @internal A call's usage under its provider's contract, with the raw usage's extra details lifted in. */
export function readUsage(
  usage: Partial<UsageMetadata> | undefined,
  provider: string | undefined,
  raw?: Readonly<Record<string, unknown>>,
): Usage {
  const contract = usageContract(provider);
  return contract.normalize(contract.lift(usage ?? {}, raw));
}

/** @internal The provider's raw usage LangChain keeps on `response_metadata.usage`, if any. */
export function rawUsageOf(message: BaseMessage | undefined): Readonly<Record<string, unknown>> | undefined {
  const usage = (message?.response_metadata as { usage?: unknown } | undefined)?.usage;
  return usage && typeof usage === "object" ? (usage as Record<string, unknown>) : undefined;
}

/** @internal The time a response states it was made at (`created_at`, Unix seconds), where LangChain keeps it. */
export function respondedAt(message: BaseMessage | undefined): Date | undefined {
  const seconds = (message?.response_metadata as { created_at?: unknown } | undefined)?.created_at;
  return typeof seconds === "number" && Number.isFinite(seconds) && seconds > 0 ? new Date(seconds * 1000) : undefined;
}

/** @internal The model a response names, if any. */
export function servedModelOf(message: BaseMessage | undefined): string | undefined {
  const metadata = message?.response_metadata as Record<string, unknown> | undefined;
  const name = metadata?.model_name ?? metadata?.model;
  return typeof name === "string" && name ? name : undefined;
}

/** @internal The cost a metered model put on a message, if it is one of ours. */
export function costOf(message: BaseMessage | undefined): Cost | undefined {
  const cost = (message?.response_metadata as { cost?: Partial<Cost> } | undefined)?.cost;
  return cost && typeof cost.nanoUsd === "number" && typeof cost.totalUsd === "number" ? (cost as Cost) : undefined;
}

/**
 * @internal What a chat-model run that ended cost, for a tracer (LangSmith, Langfuse): a metered model's cost is
 * on its message; a plain model's, under a budget handler, in that handler's record of the run (waited for).
 */
export async function endedRunCost(message: BaseMessage | undefined, runId: string | undefined): Promise<{ cost: Cost | undefined; record: CostRecord | undefined }> {
  const metered = costOf(message);
  const record = metered ? recordOfCost(metered) : runId === undefined ? undefined : await recordOfRun(runId);
  return { cost: metered ?? record?.cost, record };
}

/** @internal A reply's text, for a metering log that keeps content. */
export function replyText(reply: BaseMessage | undefined): string {
  return reply ? contentText(reply.content) : "";
}
