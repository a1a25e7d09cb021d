import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import type { ChatModelStreamEvent } from "@langchain/core/language_models/event";
import type { Serialized } from "@langchain/core/load/serializable";
import type { BaseMessage } from "@langchain/core/messages";
import type { ChatGenerationChunk, ChatResult } from "@langchain/core/outputs";
import type { RunnableConfig } from "@langchain/core/runnables";
import { ChatOpenAI, type ChatOpenAICallOptions, type ChatOpenAIFields } from "@langchain/openai";
import { markMeteredCall } from "../langchain/call-options.js";
import { replaceTokenCounter } from "../langchain/internals.js";
import { contentText } from "../langchain/messages.js";
import { installLangSmithCosts } from "../langchain/langsmith-costs.js";
import { installRunScopes } from "../langchain/run-scope.js";
import { providerFromBaseUrl } from "../pricing/providers.js";
import { encoderFor } from "../usage/tokenizer.js";
import { type CallOptions, CallTarget, type ModelCalls } from "./call-target.js";
import { type BoundTarget, RAW_TARGET } from "./downgrade.js";
import type { QuotaStatus } from "../budget/quota-status.js";
import { buildMetering, type MeteringFields, type MeteringParts } from "./metering-fields.js";
import { identify } from "./model-identity.js";
import { capturingFetch, HeaderCapture } from "./response-headers.js";
import { METERED_NAMESPACE, SERIALIZED_METERING_KEYS, withLiveObjectsMarked } from "./serialized-metering.js";

export type { BudgetOption, MeteringFields } from "./metering-fields.js";

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
    // A proxy in front of the provider (a base URL no provider owns, and no `provider` named) may state the
    // call's cost in a header (LiteLLM): only then does the client fetch through capturingFetch.
    const captures = readsCostHeader(given);
    const fetch = captures ? capturingFetch(given.configuration?.fetch as Parameters<typeof capturingFetch>[0]) : undefined;
    // Copies (`bindTools`, `withConfig`) get the fields object back as is: state keyed by it is shared.
    const fields: MeteredChatModelFields =
      !fetch || fetch === given.configuration?.fetch ? given : { ...given, configuration: { ...given.configuration, fetch } };
    super(fields);
    // Serialized as given: the header-capturing fetch is ours, not the user's.
    if (fields !== given) this.lc_kwargs = serializedAsGiven(this.lc_kwargs, given);
    installRunScopes();
    installLangSmithCosts();
    replaceTokenCounter(this, async (content) => (await encoderFor(this.model)).count(contentText(content as BaseMessage["content"])));
    const { provider } = identify(this, {}, fields.provider);
    this.primary = new CallTarget(this, this.model, provider, OPENAI_CALLS, captures);
    this.parts = buildMetering(
      fields as MeteredChatModelFields & Record<string, unknown>,
      "MeteredChatModel",
      { primaryApi: this._llmType(), byName: (name) => this.sameApi(name), timeoutMs: this.timeout },
      () => new HeaderCapture(),
    );
    this.parts.requirePrice(this.model, provider);
  }

  /**
   * Each quota of this model's budget as it stands for a run's metadata, from its store: what the current
   * window has spent and holds, what is left, when it resets.
   *
   * @example
   * ```ts
   * const [tenant] = await model.quotaStatus({ tenant: "acme" }); // { key: "tenant:acme", spentUsd, remainingUsd, resetsAt, … }
   * ```
   */
  quotaStatus(metadata: Record<string, unknown>): Promise<QuotaStatus[]> {
    return this.parts.quotaStatus(metadata);
  }

  static override lc_name(): string {
    return "MeteredChatModel";
  }

  /** Serialized under our own namespace, for `load()` with `meteredImportMap` (see the README, "Serialization"). */
  override lc_namespace = METERED_NAMESPACE;

  override get lc_serializable_keys(): string[] {
    return [...(super.lc_serializable_keys ?? []), ...SERIALIZED_METERING_KEYS];
  }

  override toJSON(): Serialized {
    return withLiveObjectsMarked(super.toJSON(), this.lc_kwargs);
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

  /**
   * Marks the call options as a metered call's (budget handlers then leave it to the model), and carries the
   * run's budget handler and metadata past plain `streamEvents()`, which drops the run's callbacks.
   */
  protected override _separateRunnableConfigFromCallOptionsCompat(
    options?: Partial<CallOptions_>,
  ): [RunnableConfig, this["ParsedCallOptions"]] {
    const [config, callOptions] = super._separateRunnableConfigFromCallOptionsCompat(options);
    markMeteredCall(config, callOptions);
    return [config, callOptions];
  }

  /** @internal This model as a downgrade target of another metered model: sent to without metering. */
  [RAW_TARGET](): BoundTarget {
    return { target: this.primary, defaults: { ...this.defaultOptions } as CallOptions };
  }

  /** The same API and settings under another model name (a downgrade by name). */
  private sameApi(model: string): BoundTarget {
    const plain = new ChatOpenAI({ ...this.fields, model });
    replaceTokenCounter(plain, async (content) => (await encoderFor(model)).count(contentText(content as BaseMessage["content"])));
    return { target: new CallTarget(plain, model, this.primary.provider, undefined, this.primary.capturesHeaders), defaults: {} };
  }
}

/** Whether a model's endpoint may state a call's cost in a response header: a proxy's, not a known provider's. */
function readsCostHeader(fields: MeteredChatModelFields): boolean {
  const baseURL = fields.configuration?.baseURL ?? (fields as { baseURL?: unknown }).baseURL;
  return typeof baseURL === "string" && baseURL !== "" && fields.provider === undefined && providerFromBaseUrl(baseURL) === undefined;
}

function serializedAsGiven(kwargs: Record<string, unknown>, given: MeteredChatModelFields): Record<string, unknown> {
  const { configuration: _ours, ...rest } = kwargs;
  return given.configuration === undefined ? rest : { ...rest, configuration: given.configuration };
}
