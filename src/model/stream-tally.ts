import type { ChatModelStreamEvent } from "@langchain/core/language_models/event";
import { AIMessage, type AIMessageChunk, type BaseMessage, type UsageMetadata } from "@langchain/core/messages";
import { contentText, toolCallText } from "../langchain/messages.js";
import { rawUsageOf, respondedAt, servedModelOf } from "../langchain/price-call.js";
import { type UsageContract, usageContract } from "../usage/providers.js";
import { reportsUsage, usageProblems } from "../usage/validate.js";
import type { Received } from "./metered-call.js";

type Raw = Record<string, unknown>;

/**
 * @internal What a stream has delivered so far: enough to price it under its provider's usage contract
 * (usage split over several chunks, cumulative or not), or to estimate it when usage never comes.
 */
export class StreamTally {
  private text = "";

  /** The text (and tool-call arguments) received so far. */
  get answer(): string {
    return this.text;
  }
  /** Whether anything at all arrived. */
  received = false;
  private servedModel: string | undefined;
  private respondedAt: Date | undefined;
  private usage: Partial<UsageMetadata> | undefined;
  /** The first chunk's usage that can't be merged (not made of non-negative integers): it decides the price. */
  private invalid: Partial<UsageMetadata> | undefined;
  private firstSnapshot: Partial<UsageMetadata> | undefined;
  private rawUsage: Raw | undefined;
  private readonly contract: UsageContract;

  constructor(provider: string | undefined) {
    this.contract = usageContract(provider);
  }

  /** Takes in a chunk; returns the text it added. */
  add(message: BaseMessage, generationModel?: unknown): string {
    this.received = true;
    const text = contentText(message.content) + toolCallText(message);
    this.text += text;
    // Anthropic names the model on message_start's additional_kwargs, OpenAI on the finishing chunk.
    const named = servedModelOf(message) ?? stringOr(generationModel) ?? stringOr(message.additional_kwargs?.model);
    if (named) this.servedModel = named;
    this.respondedAt = respondedAt(message) ?? this.respondedAt;
    this.takeUsage((message as AIMessageChunk).usage_metadata, (merged, next) => this.contract.merge(merged, next));
    this.addRaw(rawUsageOf(message));
    return text;
  }

  /** Whether a chunk carries usage (the last one that does gets the cost). */
  static carriesUsage(message: BaseMessage): boolean {
    return reportsUsage((message as AIMessageChunk).usage_metadata);
  }

  /** Takes in an event; returns the text it added. */
  addEvent(event: ChatModelStreamEvent): string {
    this.received = true;
    let text = "";
    if (event.event === "content-block-delta") {
      const delta = event.delta as { text?: unknown; reasoning?: unknown; args?: unknown };
      for (const part of [delta.text, delta.reasoning, delta.args]) if (typeof part === "string") text += part;
      this.text += text;
    }
    if ((event.event === "message-start" || event.event === "usage" || event.event === "message-finish") && event.usage) {
      this.takeUsage(event.usage, (_merged, next) => {
        this.firstSnapshot ??= next;
        return this.contract.fromSnapshots(this.firstSnapshot, next);
      });
    }
    if (event.event === "provider") {
      const named = stringOr((event.payload as { model?: unknown } | undefined)?.model);
      if (named) this.servedModel = named;
    }
    if (event.event === "message-finish") {
      const metadata = (event.responseMetadata ?? {}) as Raw;
      const named = stringOr(metadata.model_name);
      if (named) this.servedModel = named;
      const raw = metadata.usage;
      if (raw && typeof raw === "object") this.addRaw(raw as Raw);
    }
    return text;
  }

  /** Takes in a raw provider response or stream event (see `UsageContract.rawFrom`). */
  addRawEvent(data: unknown): void {
    this.addRaw(this.contract.rawFrom(data) as Raw | undefined);
  }

  /** What to price: the text received, the usage reported so far (none: counted locally), the raw usage, the model that answered. */
  soFar(): Received {
    return { reply: new AIMessage({ content: this.text }), usage: this.invalid ?? this.usage, rawUsage: this.rawUsage, model: this.servedModel, at: this.respondedAt };
  }

  /** Merges a chunk's usage; usage that can't be merged exactly (a count that is a string, say) is kept as it came. */
  private takeUsage(usage: Partial<UsageMetadata> | undefined, merge: (merged: Partial<UsageMetadata> | undefined, next: Partial<UsageMetadata>) => Partial<UsageMetadata>): void {
    if (!reportsUsage(usage) || this.invalid) return;
    if (usageProblems(usage).length) this.invalid = usage;
    else this.usage = merge(this.usage, usage);
  }

  /** Merges a chunk's raw usage (message_start's cache split, a final `cost`), skipping empty ones. */
  private addRaw(raw: Raw | undefined): void {
    if (!raw || Object.keys(raw).length === 0) return;
    this.rawUsage = { ...this.rawUsage, ...raw };
  }
}

const stringOr = (value: unknown): string | undefined => (typeof value === "string" && value ? value : undefined);
