import type { BaseMessage, UsageMetadata } from "@langchain/core/messages";
import { type Cost, costFromQuote } from "../pricing/price-usage.js";
import type { PriceCatalog } from "../pricing/catalog.js";
import { estimateUsage } from "../usage/estimate.js";
import { normalizeUsage, type Usage } from "../usage/usage.js";

/** What one call produced, as far as pricing it is concerned. */
export interface CallOutcome {
  /** The request's messages (for a local estimate when the response has no usage). */
  messages: readonly BaseMessage[];
  /** The reply, if any was received. */
  reply?: BaseMessage | undefined;
  /** The response's `usage_metadata`; `undefined` when the response carried none. */
  usage?: Partial<UsageMetadata> | undefined;
  /** The model the response names (a dated snapshot), if it named one. */
  servedModel?: string | undefined;
  /** Tool definitions sent with the request (they count as input). */
  tools?: unknown;
}

/** @internal A priced call: its normalized usage and its cost. */
export interface PricedCall {
  usage: Usage;
  cost: Cost;
}

/**
 * @internal Prices calls for one configured model: reads the usage (or estimates it locally when the
 * response has none) and applies the price of the model the response names.
 */
export class CostMeter {
  constructor(
    private readonly catalog: PriceCatalog,
    readonly model: string,
    readonly provider: string | undefined,
  ) {
    // Fail at construction, not after the first paid call.
    catalog.get(model, provider);
  }

  async price(outcome: CallOutcome, at: Date = new Date()): Promise<PricedCall> {
    const model = outcome.servedModel || this.model;
    const quote = this.catalog.get(model, this.provider, at);
    const estimated = !hasUsage(outcome.usage);
    const usage = estimated
      ? await estimateUsage(outcome.messages, outcome.reply, model, outcome.tools)
      : normalizeUsage(outcome.usage);
    return { usage, cost: costFromQuote(usage, quote, model, estimated) };
  }
}

/** A response that reports no token counts at all has no usage (a proxy dropped it, or the stream was cut). */
export function hasUsage(usage: Partial<UsageMetadata> | undefined): usage is Partial<UsageMetadata> {
  return usage !== undefined && ((usage.input_tokens ?? 0) > 0 || (usage.output_tokens ?? 0) > 0);
}
