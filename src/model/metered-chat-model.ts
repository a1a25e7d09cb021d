import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import { AIMessage, AIMessageChunk, type BaseMessage, type UsageMetadata } from "@langchain/core/messages";
import type { ChatModelStreamEvent } from "@langchain/core/language_models/event";
import { ChatGenerationChunk, type ChatResult } from "@langchain/core/outputs";
import { ChatOpenAI, type ChatOpenAICallOptions, type ChatOpenAIFields } from "@langchain/openai";
import type { CostRecord } from "../budget/cost-record.js";
import { catalogFor } from "../pricing/catalog.js";
import type { PriceOverrides } from "../pricing/overrides.js";
import { contentText, encoderFor } from "../usage/estimate.js";
import { CostMeter, hasUsage, type CallOutcome, type PricedCall } from "./cost-meter.js";

/** Options `MeteredChatModel` adds to ChatOpenAI's. */
export interface MeteringFields {
  /** Prices that add to or replace genai-prices' data, keyed by model name, in USD per 1M tokens. */
  prices?: PriceOverrides;
  /** Called with every priced call, after its cost is known (for a metering log or a dashboard). */
  onCost?: (record: CostRecord) => void;
}

/** Every ChatOpenAI constructor field, plus {@link MeteringFields}. */
export interface MeteredChatModelFields extends ChatOpenAIFields, MeteringFields {}

type ModelName = NonNullable<ChatOpenAIFields["model"]>;

/**
 * A drop-in `ChatOpenAI` that puts the USD cost of every call on `response_metadata.cost`.
 *
 * It meters `invoke`, `batch`, `stream`, `streamEvents`, and calls made inside agents, on Chat Completions
 * and the Responses API, and stays a `MeteredChatModel` through `bindTools`, `withStructuredOutput` and
 * `withConfig`. A model with no known price is an `UnknownModelPriceError` at construction.
 *
 * @example
 * ```ts
 * const model = new MeteredChatModel({ model: "gpt-4o-mini", temperature: 0 });
 * const message = await model.invoke("Hello");
 * message.response_metadata.cost.totalUsd; // 0.000045
 * ```
 */
export class MeteredChatModel<
  CallOptions extends ChatOpenAICallOptions = ChatOpenAICallOptions,
> extends ChatOpenAI<CallOptions> {
  /** @internal */
  protected readonly meter: CostMeter;
  private readonly onCost: MeteringFields["onCost"];

  constructor(model: ModelName, fields?: Omit<MeteredChatModelFields, "model">);
  constructor(fields?: MeteredChatModelFields);
  constructor(modelOrFields?: ModelName | MeteredChatModelFields, fieldsArg?: Omit<MeteredChatModelFields, "model">) {
    const fields: MeteredChatModelFields =
      typeof modelOrFields === "string" ? { ...fieldsArg, model: modelOrFields } : (modelOrFields ?? {});
    super(fields);
    this.meter = new CostMeter(catalogFor(fields.prices), this.model, "openai");
    this.onCost = fields.onCost;
    // LangChain's token counter downloads tiktoken ranks at first use (it stalls offline); count locally.
    const getNumTokens = async (content: BaseMessage["content"]) =>
      (await encoderFor(this.model)).encode(contentText(content)).length;
    for (const target of [this, this.completions, this.responses]) target.getNumTokens = getNumTokens;
  }

  /** ChatOpenAI's `withConfig` builds a plain ChatOpenAI; build our own class so metering survives `bindTools`. */
  override withConfig(config: Partial<CallOptions>): this {
    const Self = this.constructor as new (fields?: MeteredChatModelFields) => this;
    const next = new Self(this.fields as MeteredChatModelFields);
    next.defaultOptions = { ...this.defaultOptions, ...config };
    return next;
  }

  override async _generate(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): Promise<ChatResult> {
    const result = await super._generate(messages, options, runManager);
    // With n > 1 every generation carries the same usage: price the call once, show it on each.
    const reply = result.generations[0]?.message;
    const priced = await this.meter.price({
      messages,
      reply,
      usage: (reply as AIMessage | undefined)?.usage_metadata,
      servedModel: modelNameOf(reply),
      tools: options.tools,
    });
    for (const generation of result.generations) {
      const message = generation.message as AIMessage;
      if (priced.cost.estimated && !hasUsage(message.usage_metadata)) message.usage_metadata = toUsageMetadata(priced);
      message.response_metadata = { ...message.response_metadata, cost: priced.cost };
    }
    this.report(priced, runManager);
    return result;
  }

  override async *_streamResponseChunks(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    const seen = new StreamTally();
    let done = false;
    try {
      for await (const chunk of super._streamResponseChunks(messages, options, runManager)) {
        seen.add(chunk.message, chunk.generationInfo?.model_name);
        const usage = (chunk.message as AIMessageChunk).usage_metadata;
        if (hasUsage(usage)) {
          const priced = await this.meter.price(seen.outcome(messages, options.tools, usage));
          chunk.message.response_metadata = { ...chunk.message.response_metadata, cost: priced.cost };
          this.report(priced, runManager);
          done = true;
        }
        yield chunk;
      }
      if (!done) {
        // No usage chunk (streamUsage off, or a proxy that drops it): estimate, and carry it on a last chunk.
        const priced = await this.meter.price(seen.outcome(messages, options.tools));
        done = true;
        this.report(priced, runManager);
        yield new ChatGenerationChunk({
          text: "",
          message: new AIMessageChunk({
            content: "",
            usage_metadata: toUsageMetadata(priced),
            response_metadata: { cost: priced.cost },
          }),
        });
      }
    } finally {
      // A stream cut short (abort, consumer break, error) was still paid for: report what it received.
      if (!done) void this.meter.price(seen.outcome(messages, options.tools)).then((priced) => this.report(priced, runManager), () => {});
    }
  }

  override async *_streamChatModelEvents(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatModelStreamEvent> {
    const seen = new StreamTally();
    for await (const event of super._streamChatModelEvents(messages, options, runManager)) {
      seen.addEvent(event);
      if (event.event !== "message-finish") {
        yield event;
        continue;
      }
      const priced = await this.meter.price(seen.outcome(messages, options.tools, seen.usage));
      this.report(priced, runManager);
      yield {
        ...event,
        ...(priced.cost.estimated ? { usage: toUsageMetadata(priced) } : {}),
        responseMetadata: { ...event.responseMetadata, cost: priced.cost },
      };
    }
  }

  /** @internal Hands a priced call to `onCost`. */
  protected report(priced: PricedCall, runManager: CallbackManagerForLLMRun | undefined): CostRecord {
    const record: CostRecord = {
      runId: runManager?.runId,
      parentRunId: runManager?.parentRunId,
      model: priced.cost.model,
      provider: priced.cost.provider,
      usage: priced.usage,
      cost: priced.cost,
      estimated: priced.cost.estimated,
      at: new Date(),
    };
    this.onCost?.(record);
    return record;
  }
}

function modelNameOf(message: BaseMessage | undefined): string | undefined {
  const metadata = message?.response_metadata as Record<string, unknown> | undefined;
  const name = metadata?.model_name ?? metadata?.model;
  return typeof name === "string" && name ? name : undefined;
}

function toUsageMetadata({ usage }: PricedCall): UsageMetadata {
  return {
    input_tokens: usage.inputTokens,
    output_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
  };
}

/** What a stream has delivered so far: enough to price it, or to estimate it when usage never comes. */
class StreamTally {
  private text = "";
  private servedModel: string | undefined;
  usage: Partial<UsageMetadata> | undefined;

  add(message: BaseMessage, generationModel?: unknown): void {
    this.text += contentText(message.content);
    for (const call of (message as AIMessageChunk).tool_call_chunks ?? []) this.text += (call.name ?? "") + (call.args ?? "");
    this.servedModel = modelNameOf(message) ?? (typeof generationModel === "string" ? generationModel : undefined) ?? this.servedModel;
  }

  addEvent(event: ChatModelStreamEvent): void {
    if (event.event === "content-block-delta") {
      const delta = event.delta as { text?: unknown; reasoning?: unknown; args?: unknown };
      for (const part of [delta.text, delta.reasoning, delta.args]) if (typeof part === "string") this.text += part;
    }
    if ((event.event === "message-start" || event.event === "usage" || event.event === "message-finish") && event.usage) {
      this.usage = event.usage;
    }
    if (event.event === "message-finish") {
      const name = event.responseMetadata?.model_name;
      if (typeof name === "string" && name) this.servedModel = name;
    }
  }

  outcome(messages: BaseMessage[], tools: unknown, usage?: Partial<UsageMetadata>): CallOutcome {
    return { messages, reply: new AIMessage({ content: this.text }), usage, servedModel: this.servedModel, tools };
  }
}
