import type { BaseMessage, UsageMetadata } from "@langchain/core/messages";
import { estimateUsage } from "../usage/estimate.js";
import { normalizeUsage, type Usage } from "../usage/usage.js";
import type { PriceCatalog } from "./catalog.js";
import { type Cost, costFromQuote } from "./price-usage.js";

/** @internal What one chat-model call produced, as far as pricing it is concerned. */
export interface CallOutcome {
  /** The request's messages (for a local estimate when the response has no usage). */
  messages: readonly BaseMessage[];
  /** The reply, or what was received of it. */
  reply?: BaseMessage | undefined;
  /** The response's `usage_metadata`; `undefined` when it carried none. */
  usage?: Partial<UsageMetadata> | undefined;
  /** The model the response names (a dated snapshot), else the configured one. */
  model: string;
  provider: string | undefined;
  /** Tool definitions sent with the request (they count as input). */
  tools?: unknown;
}

/** @internal A priced call: its normalized usage and its cost. */
export interface PricedCall {
  usage: Usage;
  cost: Cost;
}

/**
 * @internal Prices a call: reads its usage, or estimates it locally when the response has none, and applies
 * the price of the model the response names. Throws `UnknownModelPriceError` rather than price it at $0.
 */
export async function priceCall(catalog: PriceCatalog, outcome: CallOutcome, at: Date = new Date()): Promise<PricedCall> {
  const quote = catalog.get(outcome.model, outcome.provider, at);
  const estimated = !hasUsage(outcome.usage);
  const usage = estimated
    ? await estimateUsage(outcome.messages, outcome.reply, outcome.model, outcome.tools)
    : normalizeUsage(outcome.usage);
  return { usage, cost: costFromQuote(usage, quote, outcome.model, estimated) };
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
