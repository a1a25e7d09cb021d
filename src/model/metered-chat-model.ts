import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import type { BaseLanguageModelInput } from "@langchain/core/language_models/base";
import type { ChatModelStreamEvent } from "@langchain/core/language_models/event";
import type { AIMessageChunk, BaseMessage } from "@langchain/core/messages";
import type { ChatGenerationChunk, ChatResult } from "@langchain/core/outputs";
import type { RunnableBatchOptions, RunnableConfig } from "@langchain/core/runnables";
import { ChatOpenAI, type ChatOpenAICallOptions, type ChatOpenAIFields } from "@langchain/openai";
import { METERED_METADATA_KEY } from "../budget/budget-handler.js";
import { type CallOptions, CallTarget, type ModelCalls } from "./call-target.js";
import { type BoundTarget, RAW_TARGET } from "./downgrade.js";
import { useLocalTokenCounter } from "./local-tokens.js";
import { buildMetering, type MeteringFields, type MeteringParts } from "./metering-fields.js";
import { identify } from "./model-identity.js";
import { capturingFetch, HeaderCapture } from "./response-headers.js";
import { carryBudget, sharedBatchBudget } from "./run-options.js";

export type { MeteringFields } from "./metering-fields.js";

/** Every ChatOpenAI constructor field, plus {@link MeteringFields}. */
export interface MeteredChatModelFields extends ChatOpenAIFields, MeteringFields {}

type ModelName = NonNullable<ChatOpenAIFields["model"]>;

// ChatOpenAI's own implementation of the three call paths: metered calls are sent through it.
const OPENAI_CALLS = ChatOpenAI.prototype as unknown as ModelCalls;

/**
 * A drop-in `ChatOpenAI` that puts the USD cost of every call on `response_metadata.cost` and stops a run
 * once it has spent its budget ($2 by default).
 *
 * It meters `invoke`, `batch`, `stream`, `streamEvents`, and calls made inside agents, on Chat Completions
 * and the Responses API, and stays a `MeteredChatModel` through `bindTools`, `withStructuredOutput` and
 * `withConfig`. With a `baseURL`, prices are those of the provider it points at (Groq, DeepSeek, Together,
 * OpenRouter, Mistral, Azure). A model with no known price is an `UnknownModelPriceError` at construction.
 * For other providers' chat models, see `meter()`.
 *
 * @example
 * ```ts
 * const model = new MeteredChatModel({ model: "gpt-4o-mini", temperature: 0 });
 * const message = await model.invoke("Hello");
 * message.response_metadata.cost.totalUsd; // 0.000045
 * ```
 */
export class MeteredChatModel<
  CallOptions_ extends ChatOpenAICallOptions = ChatOpenAICallOptions,
> extends ChatOpenAI<CallOptions_> {
  private readonly parts: MeteringParts;
  private readonly primary: CallTarget;

  constructor(model: ModelName, fields?: Omit<MeteredChatModelFields, "model">);
  constructor(fields?: MeteredChatModelFields);
  constructor(modelOrFields?: ModelName | MeteredChatModelFields, fieldsArg?: Omit<MeteredChatModelFields, "model">) {
    const given: MeteredChatModelFields =
      typeof modelOrFields === "string" ? { ...fieldsArg, model: modelOrFields } : (modelOrFields ?? {});
    // The client fetches through capturingFetch, so a call can read a LiteLLM proxy's cost header.
    const fetch = capturingFetch(given.configuration?.fetch as Parameters<typeof capturingFetch>[0]);
    // Copies (`bindTools`, `withConfig`) get the fields object back as is: state keyed by it is shared.
    const fields: MeteredChatModelFields =
      fetch === given.configuration?.fetch ? given : { ...given, configuration: { ...given.configuration, fetch } };
    super(fields);
    useLocalTokenCounter(this);
    const { provider } = identify(this, {}, fields.provider);
    this.primary = new CallTarget(this, this.model, provider, OPENAI_CALLS, true);
    this.parts = buildMetering(fields, this._llmType(), (name) => this.sameApi(name), () => new HeaderCapture());
    this.parts.catalog.get(this.model, provider); // an unknown price fails here, not after the first paid call
  }

  /** ChatOpenAI's `withConfig` builds a plain ChatOpenAI; build our own class so metering survives `bindTools`. */
  override withConfig(config: Partial<CallOptions_>): this {
    const Self = this.constructor as new (fields?: MeteredChatModelFields) => this;
    const next = new Self(this.fields as MeteredChatModelFields);
    next.defaultOptions = { ...this.defaultOptions, ...config };
    return next;
  }

  override _generate(messages: BaseMessage[], options: this["ParsedCallOptions"], runManager?: CallbackManagerForLLMRun): Promise<ChatResult> {
    return this.parts.metering.generate(this.primary, messages, options as CallOptions, runManager);
  }

  override _streamResponseChunks(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    return this.parts.metering.stream(this.primary, messages, options as CallOptions, runManager);
  }

  override _streamChatModelEvents(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatModelStreamEvent> {
    return this.parts.metering.events(this.primary, messages, options as CallOptions, runManager);
  }

  /** Runs LangChain splits into one root run per input still share one budget, as one run would. */
  override async batch(
    inputs: BaseLanguageModelInput[],
    options?: Partial<CallOptions_> | Partial<CallOptions_>[],
    batchOptions?: RunnableBatchOptions & { returnExceptions?: false },
  ): Promise<AIMessageChunk[]>;
  override async batch(
    inputs: BaseLanguageModelInput[],
    options?: Partial<CallOptions_> | Partial<CallOptions_>[],
    batchOptions?: RunnableBatchOptions & { returnExceptions: true },
  ): Promise<(AIMessageChunk | Error)[]>;
  override async batch(
    inputs: BaseLanguageModelInput[],
    options?: Partial<CallOptions_> | Partial<CallOptions_>[],
    batchOptions?: RunnableBatchOptions,
  ): Promise<(AIMessageChunk | Error)[]>;
  override async batch(
    inputs: BaseLanguageModelInput[],
    options?: Partial<CallOptions_> | Partial<CallOptions_>[],
    batchOptions?: RunnableBatchOptions,
  ): Promise<(AIMessageChunk | Error)[]> {
    return super.batch(inputs, sharedBatchBudget(this.parts.budget, inputs, options), batchOptions);
  }

  /** Plain `streamEvents()` drops the run's callbacks before the call: carry a budget among them across. */
  protected override _separateRunnableConfigFromCallOptionsCompat(
    options?: Partial<CallOptions_>,
  ): [RunnableConfig, this["ParsedCallOptions"]] {
    const [config, callOptions] = super._separateRunnableConfigFromCallOptionsCompat(options);
    carryBudget(config, callOptions);
    return [config, callOptions];
  }

  /** Marks this model's runs, so a budget's callbacks leave its calls to it (it reports them itself). */
  override getLsParams(options: this["ParsedCallOptions"]) {
    return { ...super.getLsParams(options), [METERED_METADATA_KEY]: true };
  }

  /** @internal This model as a downgrade target of another metered model: sent to without metering. */
  [RAW_TARGET](): BoundTarget {
    return { target: this.primary, defaults: { ...this.defaultOptions } as CallOptions };
  }

  /** The same API and settings under another model name (a downgrade by name). */
  private sameApi(model: string): BoundTarget {
    const plain = new ChatOpenAI({ ...this.fields, model });
    useLocalTokenCounter(plain);
    return { target: new CallTarget(plain, model, this.primary.provider, undefined, true), defaults: {} };
  }
}
