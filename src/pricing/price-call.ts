import type { BaseMessage, UsageMetadata } from "@langchain/core/messages";
import { estimateUsage } from "../usage/estimate.js";
import { usageContract } from "../usage/providers.js";
import type { Usage } from "../usage/usage.js";
import type { PriceCatalog } from "./catalog.js";
import { type Cost, type CostSource, costFromQuote, withReportedCost } from "./price-usage.js";
import { reportedCostOf } from "./reported-cost.js";

/** @internal What one chat-model call produced, as far as pricing it is concerned. */
export interface CallOutcome {
  /** The request's messages (for a local estimate when the response has no usage). */
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
  /** The model the call was meant for, when a budget downgrade served it with `model`. */
  downgradedFrom?: string | undefined;
}

/** @internal A priced call: its normalized usage and its cost. */
export interface PricedCall {
  usage: Usage;
  cost: Cost;
}

/**
 * @internal Prices a call: reads its usage under its provider's contract (lifting what the provider
 * package left in the raw usage), or estimates it locally when the response has none, and applies the
 * price of the model the response names. Throws `UnknownModelPriceError` rather than price it at $0.
 */
export async function priceCall(catalog: PriceCatalog, outcome: CallOutcome, at: Date = new Date()): Promise<PricedCall> {
  const quote = catalog.get(outcome.model, outcome.provider, at);
  const estimated = !hasUsage(outcome.usage);
  const raw = outcome.rawUsage ?? rawUsageOf(outcome.reply);
  const usage = estimated
    ? await estimateUsage(outcome.messages, outcome.reply, outcome.model, outcome.tools)
    : readUsage(outcome.usage, outcome.provider, raw);
  let cost = costFromQuote(usage, quote, outcome.model, estimated);
  cost = withReportedCost(cost, outcome.reportedUsd ?? reportedCostOf(raw), outcome.costSource ?? "ours");
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

/**
 * @internal Whether a response reported token counts. Some paths attach an empty or all-zero
 * `usage_metadata` when the server sent none (Responses API, Chat Completions with details only).
 */
export function hasUsage(usage: Partial<UsageMetadata> | undefined): usage is Partial<UsageMetadata> {
  return usage !== undefined && ((usage.input_tokens ?? 0) > 0 || (usage.output_tokens ?? 0) > 0);
}

/** @internal The model a response names, if any. */
export function servedModelOf(message: BaseMessage | undefined): string | undefined {
  const metadata = message?.response_metadata as Record<string, unknown> | undefined;
  const name = metadata?.model_name ?? metadata?.model;
  return typeof name === "string" && name ? name : undefined;
}

/** @internal The cost `MeteredChatModel` put on a message, if it is one of ours. */
export function costOf(message: BaseMessage | undefined): Cost | undefined {
  const cost = (message?.response_metadata as { cost?: Partial<Cost> } | undefined)?.cost;
  return cost && typeof cost.nanoUsd === "number" && typeof cost.totalUsd === "number" ? (cost as Cost) : undefined;
}
