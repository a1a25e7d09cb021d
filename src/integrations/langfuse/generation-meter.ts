import type { AIMessage, BaseMessage } from "@langchain/core/messages";
import type { LLMResult } from "@langchain/core/outputs";
import type { BudgetView } from "../../budget/cost-record.js";
import { BudgetExceededError } from "../../budget/errors.js";
import { type PriceCatalog, catalogFor } from "../../pricing/catalog.js";
import type { PriceOverrides } from "../../pricing/overrides.js";
import { endedRunCost, priceCall, servedModelOf } from "../../langchain/price-call.js";
import type { Cost } from "../../pricing/price-usage.js";
import { recordOfError } from "../../budget/cost-record.js";
import { stopView } from "./budget-view.js";
import { costDetailsFor, lastMessageOf, usageDetailsFor, usageKeysOf } from "./cost-details.js";

/** Options the metered Langfuse handlers add to the stock handlers' own. */
export interface MeteringOptions {
  /**
   * Prices for the chat models this handler prices itself (any model other than `MeteredChatModel`, which
   * prices its own calls), keyed by model name, in USD per 1M tokens; genai-prices' data otherwise.
   */
  prices?: PriceOverrides;
}

/** What a generation's `metadata.metered` holds in Langfuse: where its cost came from, and the budget's say. */
export interface MeteredGenerationMetadata {
  /** How the cost was priced; absent when the call's cost is unknown (a call stopped before it was priced). */
  price?: {
    /** `"genai-prices"`, or `"override"` for a price from the `prices` option. */
    source: string;
    /** The genai-prices release the price comes from. */
    version?: string;
    /** The model priced: the one the response named (e.g. a dated snapshot), else the one configured. */
    model: string;
    /** True when the usage was counted locally because the response carried none. */
    estimated: boolean;
    /** The endpoint's own figure for the call, when it stated one, beside ours (`ourUsd`). */
    reportedUsd?: number;
    ourUsd?: number;
    /** Which figure the cost `total` (and the budget) counts, when the endpoint stated one. */
    counted?: "ours" | "reported";
    /** The model the call was meant for, when a budget downgrade served it with `model`. */
    downgradedFrom?: string;
  };
  /** The budget's view once the call was settled (limit, spend, what is left, its decision), under a budget. */
  budget?: BudgetView;
}

/** @internal What the Langfuse handlers add to a generation. */
export interface GenerationReport {
  /** USD under the usage's keys, with `total`. */
  costDetails?: Record<string, number>;
  /** Usage, for a call the stock handler reports none for (it ended in an error). */
  usageDetails?: Record<string, number>;
  metadata: { metered: MeteredGenerationMetadata };
}

/** @internal What a chat-model call needs to be priced when it ends. */
interface StartedCall {
  messages: readonly BaseMessage[];
  model: string | undefined;
  provider: string | undefined;
  tools: unknown;
}

/** Calls whose end never comes (a start handler threw) must not pile up. */
const MAX_OPEN_CALLS = 10_000;

/**
 * @internal Prices the chat-model calls a Langfuse handler sees: the cost a `MeteredChatModel` put on the
 * message, or, for any other chat model, its usage priced with genai-prices. Knows nothing of Langfuse's
 * clients; the handlers send what it reports.
 */
export class GenerationMeter {
  private readonly calls = new Map<string, StartedCall>();
  private readonly catalog: PriceCatalog;
  private readonly warned = new Set<string>();

  constructor(options: MeteringOptions = {}) {
    this.catalog = catalogFor(options.prices);
  }

  /** Notes a chat-model call at its start (from `handleChatModelStart`'s arguments). */
  start(runId: string, messages: BaseMessage[][], extraParams?: Record<string, unknown>, metadata?: Record<string, unknown>): void {
    const invocation = extraParams?.invocation_params as { model?: unknown; tools?: unknown } | undefined;
    if (this.calls.size >= MAX_OPEN_CALLS) this.calls.delete(this.calls.keys().next().value as string);
    this.calls.set(runId, {
      messages: messages[0] ?? [],
      model: text(metadata?.ls_model_name) ?? text(invocation?.model),
      provider: text(metadata?.ls_provider),
      tools: invocation?.tools,
    });
  }

  /** The report for a call that ended; `undefined` when it isn't a chat-model call or can't be priced. */
  async ended(runId: string, output: LLMResult): Promise<GenerationReport | undefined> {
    const call = this.take(runId);
    if (!call) return undefined;
    const message = lastMessageOf(output);
    const ended = await endedRunCost(message, runId);
    const cost = ended.cost ?? (await this.price(call, message));
    if (!cost) return undefined;
    return report(cost, usageKeysOf(output), ended.record?.budget);
  }

  /** The report for a call that failed: only a budget's stop has something to say (its decision, what it cost). */
  failed(runId: string, error: unknown): GenerationReport | undefined {
    this.take(runId);
    if (!BudgetExceededError.isInstance(error)) return undefined;
    const record = recordOfError(error);
    const view = record?.budget ?? stopView(error);
    if (!record) return { metadata: { metered: { budget: view } } };
    const usageDetails = usageDetailsFor(record.usage);
    return { ...report(record.cost, Object.keys(usageDetails), view), usageDetails };
  }

  private take(runId: string): StartedCall | undefined {
    const call = this.calls.get(runId);
    this.calls.delete(runId);
    return call;
  }

  /** Prices a call of a model that doesn't price itself. A model we can't price is left to Langfuse. */
  private async price(call: StartedCall, message: BaseMessage | undefined): Promise<Cost | undefined> {
    const model = servedModelOf(message) ?? call.model;
    if (!model) return undefined;
    try {
      const usage = (message as AIMessage | undefined)?.usage_metadata;
      const outcome = { messages: call.messages, reply: message, usage, model, provider: call.provider, tools: call.tools };
      return (await priceCall(this.catalog, outcome)).cost;
    } catch (error) {
      if (!this.warned.has(model)) {
        this.warned.add(model);
        console.warn(`langchain-metered: no cost sent to Langfuse for "${model}": ${(error as Error).message}`);
      }
      return undefined;
    }
  }
}

/** Cost fields shown as they are, when the call has them. */
const PASSED_ON = ["reportedUsd", "ourUsd", "counted", "downgradedFrom"] as const;

function report(cost: Cost, usageKeys: readonly string[], budget: BudgetView | undefined): GenerationReport {
  const [source = cost.priceSource, version] = cost.priceSource.split("@");
  const price: NonNullable<MeteredGenerationMetadata["price"]> = { source, model: cost.model, estimated: cost.estimated };
  if (version) price.version = version;
  for (const key of PASSED_ON) {
    const value = (cost as unknown as Record<string, unknown>)[key];
    if (value !== undefined) (price as Record<string, unknown>)[key] = value;
  }
  return { costDetails: costDetailsFor(cost, usageKeys), metadata: { metered: { price, ...(budget ? { budget } : {}) } } };
}

const text = (value: unknown): string | undefined => (typeof value === "string" && value ? value : undefined);
