import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import type { BaseLanguageModelInput, StructuredOutputMethodOptions } from "@langchain/core/language_models/base";
import {
  BaseChatModel,
  type BaseChatModelCallOptions,
  type BindToolsInput,
} from "@langchain/core/language_models/chat_models";
import type { ChatModelStreamEvent } from "@langchain/core/language_models/event";
import type { Serialized } from "@langchain/core/load/serializable";
import type { AIMessageChunk, BaseMessage } from "@langchain/core/messages";
import type { ChatGenerationChunk, ChatResult, LLMResult } from "@langchain/core/outputs";
import { mergeConfigs, type Runnable, type RunnableConfig } from "@langchain/core/runnables";
import { markMeteredCall } from "../langchain/call-options.js";
import { installLangSmithCosts } from "../langchain/langsmith-costs.js";
import { installRunScopes } from "../langchain/run-scope.js";
import { type CallOptions, CallTarget } from "./call-target.js";
import { type BoundTarget, RAW_TARGET } from "./downgrade.js";
import type { QuotaStatus } from "../budget/quota-status.js";
import { buildMetering, type MeteringFields, type MeteringParts } from "./metering-fields.js";
import { identify } from "./model-identity.js";
import { METERED_NAMESPACE, serializableMetering } from "./serialized-metering.js";
import { isChatModel, unwrapChatModel } from "./unwrap.js";

/** Options of {@link meter}: how the model is priced and budgeted. */
export interface MeterOptions extends MeteringFields {}

/** @internal What a `MeteredModel` is built from, and what it serializes as (`meter()` is the public way in). */
export interface MeteredModelFields<CallOptions_ extends BaseChatModelCallOptions = BaseChatModelCallOptions> {
  /** The model being metered. */
  model: BaseChatModel<CallOptions_, AIMessageChunk>;
  /** How it is priced and budgeted: `meter()`'s options. */
  options?: MeterOptions;
  /** Call options bound by `bindTools`, `withConfig` and `withStructuredOutput`. */
  callOptions?: Partial<CallOptions_>;
}

type Loose = Record<string, unknown>;

/**
 * Meters any LangChain chat model (ChatAnthropic, ChatGoogleGenerativeAI, ChatOpenAI against any
 * OpenAI-compatible endpoint, …) the way `MeteredChatModel` meters ChatOpenAI: `response_metadata.cost`
 * on every answer, the per-run budget ($2 by default), `onCost`, downgrades. The result is still a chat
 * model, and stays metered through `bindTools`, `withStructuredOutput` and `withConfig`.
 *
 * @example
 * ```ts
 * const model = meter(new ChatAnthropic({ model: "claude-sonnet-4-5" }), { budget: { limitUsd: 2 } });
 * (await model.invoke("Hello")).response_metadata.cost.totalUsd;
 * ```
 */
export function meter<CallOptions_ extends BaseChatModelCallOptions>(
  model: BaseChatModel<CallOptions_, AIMessageChunk>,
  options: MeterOptions = {},
): MeteredModel<CallOptions_> {
  if (model instanceof MeteredModel) return new MeteredModel({ model: model.inner, options, callOptions: model.defaults });
  if (typeof (model as Partial<Record<typeof RAW_TARGET, unknown>>)[RAW_TARGET] === "function") {
    throw new TypeError("This model is a MeteredChatModel, which is metered already: give it the options instead of calling meter().");
  }
  const bound = unwrapChatModel(model);
  if (!bound) {
    throw new TypeError(`meter() takes a LangChain chat model, got ${String((model as object)?.constructor?.name ?? typeof model)}.`);
  }
  const inner = bound.model as BaseChatModel<CallOptions_, AIMessageChunk>;
  return new MeteredModel<CallOptions_>({ model: inner, options, callOptions: bound.options as Partial<CallOptions_> });
}

/**
 * A chat model metered by {@link meter}: every call goes to `inner`'s own implementation, wrapped by the
 * same metering core as `MeteredChatModel`. Traces name the run after `inner` and show its parameters;
 * `toJSON()` writes the metered model (inner model, metering options) so that `load()` with
 * `meteredImportMap` revives it metered.
 */
export class MeteredModel<CallOptions_ extends BaseChatModelCallOptions = BaseChatModelCallOptions> extends BaseChatModel<
  CallOptions_,
  AIMessageChunk
> {
  /** The model being metered. */
  readonly inner: BaseChatModel<CallOptions_, AIMessageChunk>;
  /** Call options bound by `bindTools`, `withConfig` and `withStructuredOutput`. */
  readonly defaults: Partial<CallOptions_>;
  private readonly options: MeterOptions;
  private readonly parts: MeteringParts;
  private readonly primary: CallTarget;

  /** @internal Use {@link meter}; `load()` builds one from its serialized fields. */
  constructor({ model: inner, options = {}, callOptions: defaults = {} }: MeteredModelFields<CallOptions_>) {
    super({
      callbacks: inner.callbacks,
      tags: inner.tags,
      metadata: inner.metadata,
      verbose: inner.verbose,
      disableStreaming: inner.disableStreaming,
      outputVersion: inner.outputVersion,
      ...(inner.cache ? { cache: inner.cache } : {}),
    });
    this.inner = inner;
    this.defaults = defaults;
    this.options = options;
    installRunScopes();
    installLangSmithCosts();
    const { modelName, provider } = identify(inner, defaults as Loose, options.provider);
    this.primary = new CallTarget(inner, modelName, provider);
    const timeout = (inner as unknown as { timeout?: unknown }).timeout;
    this.parts = buildMetering(options as MeterOptions & Record<string, unknown>, "meter()", {
      primaryApi: inner._llmType(),
      byName: (name) => this.sameApi(name),
      timeoutMs: typeof timeout === "number" ? timeout : undefined,
    });
    this.parts.requirePrice(modelName, provider);
  }

  static override lc_name(): string {
    return "MeteredModel";
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

  override _llmType(): string {
    // BaseChatModel's field initializers ask before `inner` is set.
    return (this.inner as BaseChatModel | undefined)?._llmType() ?? "metered";
  }

  override _generate(messages: BaseMessage[], options: this["ParsedCallOptions"], runManager?: CallbackManagerForLLMRun): Promise<ChatResult> {
    return this.parts.metering.generate(this.primary, messages, options as unknown as CallOptions, runManager);
  }

  override _streamResponseChunks(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    return this.parts.metering.stream(this.primary, messages, options as unknown as CallOptions, runManager);
  }

  override _streamChatModelEvents(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatModelStreamEvent> {
    return this.parts.metering.events(this.primary, messages, options as unknown as CallOptions, runManager);
  }

  /** A metered copy with `config` bound (merged as a RunnableBinding would). */
  override withConfig(config: Partial<CallOptions_>): this {
    const merged = mergeConfigs(this.defaults as RunnableConfig, config as RunnableConfig) as Partial<CallOptions_>;
    return new MeteredModel({ model: this.inner, options: this.options, callOptions: merged }) as this;
  }

  /** The inner model's own `bindTools`, with its `withConfig` landing on this metered model. */
  override bindTools(tools: BindToolsInput[], kwargs?: Partial<CallOptions_>): Runnable<BaseLanguageModelInput, AIMessageChunk, CallOptions_> {
    const bindTools = this.inner.bindTools;
    if (typeof bindTools !== "function") throw new Error(`${this.inner.getName()} does not support tool binding (no bindTools).`);
    return this.metered(bindTools.call(this.asInner(), tools, kwargs));
  }

  /** The inner model's own `withStructuredOutput`, with its `withConfig` / `bindTools` landing on this metered model. */
  override withStructuredOutput<RunOutput extends Record<string, unknown> = Record<string, unknown>>(
    outputSchema: Parameters<BaseChatModel["withStructuredOutput"]>[0],
    config?: StructuredOutputMethodOptions<boolean>,
  ): Runnable<BaseLanguageModelInput, RunOutput> | Runnable<BaseLanguageModelInput, { raw: BaseMessage; parsed: RunOutput }> {
    const build = this.inner.withStructuredOutput as (this: unknown, schema: unknown, config?: unknown) => Runnable;
    return build.call(this.asInner(), outputSchema, config) as Runnable<BaseLanguageModelInput, RunOutput>;
  }

  /** Bound options apply under the call's own; the call is marked metered and its run named after `inner`. */
  protected override _separateRunnableConfigFromCallOptionsCompat(
    options?: Partial<CallOptions_>,
  ): [RunnableConfig, this["ParsedCallOptions"]] {
    const merged = mergeConfigs(this.defaults as RunnableConfig, (options ?? {}) as RunnableConfig) as Partial<CallOptions_>;
    const [config, callOptions] = super._separateRunnableConfigFromCallOptionsCompat(merged);
    markMeteredCall(config, callOptions);
    config.runName ??= this.inner.getName(); // traces name the run after the model being metered, as unmetered
    return [config, callOptions];
  }

  override getLsParams(options: this["ParsedCallOptions"]) {
    return this.inner.getLsParams(options as never);
  }

  override invocationParams(options?: this["ParsedCallOptions"]) {
    return this.inner.invocationParams(options as never);
  }

  override _identifyingParams(): Record<string, unknown> {
    return this.inner._identifyingParams();
  }

  override _combineLLMOutput(...outputs: LLMResult["llmOutput"][]): LLMResult["llmOutput"] {
    return this.inner._combineLLMOutput?.(...outputs);
  }

  override get callKeys(): string[] {
    return this.inner.callKeys;
  }

  override get profile() {
    return this.inner.profile;
  }

  /**
   * The metered model, for `load()` with `meteredImportMap`: the inner model's own serialized form, the
   * metering options and any bound call options (not bound callbacks or signals, which are live objects).
   */
  override toJSON(): Serialized {
    const { callbacks: _callbacks, signal: _signal, ...callOptions } = this.defaults as Loose;
    const kwargs: Loose = { model: this.inner.toJSON(), options: serializableMetering(this.options as Loose) };
    if (Object.keys(callOptions).length > 0) kwargs.call_options = callOptions;
    return { lc: 1, type: "constructor", id: [...METERED_NAMESPACE, "MeteredModel"], kwargs };
  }

  /** @internal This model as a downgrade target of another metered model: sent to without metering. */
  [RAW_TARGET](): BoundTarget {
    return { target: this.primary, defaults: this.defaults as CallOptions };
  }

  /**
   * The inner model, except that `withConfig` and `bindTools` land on this metered model: the inner's
   * own `bindTools` / `withStructuredOutput` then build metered models (ChatAnthropic's and Google's would
   * otherwise return bindings of the bare inner model).
   */
  private asInner(): BaseChatModel {
    const metered = this;
    return new Proxy(this.inner, {
      get(target, property) {
        if (property === "withConfig") return (config: Partial<CallOptions_>) => metered.withConfig(config);
        if (property === "bindTools") return (tools: BindToolsInput[], kwargs?: Partial<CallOptions_>) => metered.bindTools(tools, kwargs);
        return Reflect.get(target, property, target);
      },
    });
  }

  /** What an inner `bindTools` returned, as a metered model (it is one when it went through `withConfig`). */
  private metered(result: unknown): MeteredModel<CallOptions_> {
    if (result instanceof MeteredModel) return result as MeteredModel<CallOptions_>;
    const bound = unwrapChatModel(result);
    if (!bound || !isChatModel(bound.model)) {
      throw new TypeError(`${this.inner.getName()}.bindTools returned something that isn't a chat model.`);
    }
    const defaults = mergeConfigs(this.defaults as RunnableConfig, bound.options as RunnableConfig) as Partial<CallOptions_>;
    return new MeteredModel({ model: bound.model as BaseChatModel<CallOptions_, AIMessageChunk>, options: this.options, callOptions: defaults });
  }

  /** The inner model's class and settings under another model name (a downgrade by name). */
  private sameApi(model: string): BoundTarget {
    const Model = this.inner.constructor as new (fields: Loose) => BaseChatModel;
    const fields: Loose = { ...(this.inner.lc_kwargs as Loose), model };
    delete fields.modelName;
    const clone = new Model(fields);
    return { target: new CallTarget(clone, model, this.primary.provider), defaults: {} };
  }
}
