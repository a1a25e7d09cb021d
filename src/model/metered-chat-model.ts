import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import type { BaseLanguageModelInput } from "@langchain/core/language_models/base";
import type { ChatModelStreamEvent } from "@langchain/core/language_models/event";
import type { RunnableBatchOptions, RunnableConfig } from "@langchain/core/runnables";
import { AIMessage, AIMessageChunk, type BaseMessage, type UsageMetadata } from "@langchain/core/messages";
import { ChatGenerationChunk, type ChatResult } from "@langchain/core/outputs";
import {
  ChatOpenAI,
  type ChatOpenAICallOptions,
  type ChatOpenAICompletions,
  type ChatOpenAIFields,
  type ChatOpenAIResponses,
} from "@langchain/openai";
import type { CostRecord } from "../budget/cost-record.js";
import { type PriceCatalog, catalogFor } from "../pricing/catalog.js";
import type { PriceOverrides } from "../pricing/overrides.js";
import { type CallOutcome, hasUsage, type PricedCall, priceCall, servedModelOf } from "../pricing/price-call.js";
import { contentText, encoderFor } from "../usage/estimate.js";
import { type BudgetCallbackHandler, METERED_METADATA_KEY, toolCallText } from "../budget/budget-handler.js";
import { findBudget, replaceBudget } from "../budget/callbacks.js";
import { type BudgetOption, CallBudget, type BudgetScope, type CallRequest } from "./call-budget.js";

/** Options `MeteredChatModel` adds to ChatOpenAI's. */
export interface MeteringFields {
  /** Prices that add to or replace genai-prices' data, keyed by model name, in USD per 1M tokens. */
  prices?: PriceOverrides;
  /** Called with every priced call, after its cost is known (for a metering log or a dashboard). */
  onCost?: (record: CostRecord) => void;
  /**
   * The budget of each run this model takes part in: `{ limitUsd }` (default `{ limitUsd: 2 }`), or `false`
   * to meter without a limit. A `BudgetCallbackHandler` passed in the run's callbacks is used instead.
   */
  budget?: BudgetOption;
}

/** Every ChatOpenAI constructor field, plus {@link MeteringFields}. */
export interface MeteredChatModelFields extends ChatOpenAIFields, MeteringFields {}

type ModelName = NonNullable<ChatOpenAIFields["model"]>;

/**
 * A drop-in `ChatOpenAI` that puts the USD cost of every call on `response_metadata.cost` and stops a run
 * once it has spent its budget ($2 by default).
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
  private readonly catalog: PriceCatalog;
  private readonly provider = "openai";
  private readonly onCost: MeteringFields["onCost"];
  private readonly budget: CallBudget;
  private onCostFailed = false;

  constructor(model: ModelName, fields?: Omit<MeteredChatModelFields, "model">);
  constructor(fields?: MeteredChatModelFields);
  constructor(modelOrFields?: ModelName | MeteredChatModelFields, fieldsArg?: Omit<MeteredChatModelFields, "model">) {
    const fields: MeteredChatModelFields =
      typeof modelOrFields === "string" ? { ...fieldsArg, model: modelOrFields } : (modelOrFields ?? {});
    super(fields);
    this.catalog = catalogFor(fields.prices);
    this.catalog.get(this.model, this.provider); // an unknown price fails here, not after the first paid call
    this.onCost = fields.onCost;
    this.budget = CallBudget.for(fields, fields.budget);
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
    const scope = await this.budget.open(runManager, this.request(messages, options));
    const result = await scope.guard(async () => {
      const delegate = this.delegate(options, await scope.reserve(this.outputLimits()));
      return delegate._generate(messages, scope.withSignal(options), runManager);
    });
    // With n > 1 every generation carries the same usage: price the call once, show it on each.
    const reply = result.generations[0]?.message as AIMessage | undefined;
    const priced = await this.price({ messages, reply, usage: reply?.usage_metadata, tools: options.tools });
    for (const generation of result.generations) {
      const message = generation.message as AIMessage;
      if (priced.cost.estimated && !hasUsage(message.usage_metadata)) message.usage_metadata = toUsageMetadata(priced);
      message.response_metadata = { ...message.response_metadata, cost: priced.cost };
    }
    this.report(priced, runManager);
    await scope.settle(priced, reply ? contentText(reply.content) : "");
    return result;
  }

  override async *_streamResponseChunks(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    const scope = await this.budget.open(runManager, this.request(messages, options));
    const seen = new StreamTally();
    let priced: PricedCall | undefined;
    try {
      const chunks = this.streamChunks(scope, messages, options, runManager);
      for await (const chunk of scope.guardEach(chunks)) {
        await scope.observe(seen.add(chunk.message, chunk.generationInfo?.model_name));
        const usage = (chunk.message as AIMessageChunk).usage_metadata;
        if (hasUsage(usage)) {
          priced = await this.price(seen.outcome(messages, options.tools, usage));
          chunk.message.response_metadata = { ...chunk.message.response_metadata, cost: priced.cost };
          this.report(priced, runManager);
          await scope.settle(priced, seen.answer);
        }
        yield chunk;
      }
      if (!priced) {
        // No usage chunk (streamUsage off, or a proxy that drops it): estimate, and carry it on a last chunk.
        priced = await this.price(seen.outcome(messages, options.tools));
        this.report(priced, runManager);
        await scope.settle(priced, seen.answer);
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
      if (!priced) await this.cutShort(scope, seen, messages, options, runManager);
    }
  }

  override async *_streamChatModelEvents(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatModelStreamEvent> {
    // Without a run manager (plain `streamEvents()`), the call is its own run: it gets its own budget.
    const scope = await this.budget.open(runManager, this.request(messages, options), { standalone: !runManager });
    const seen = new StreamTally();
    let priced: PricedCall | undefined;
    try {
      const events = this.modelEvents(scope, messages, options, runManager);
      for await (const event of scope.guardEach(events)) {
        await scope.observe(seen.addEvent(event));
        if (event.event !== "message-finish") {
          yield event;
          continue;
        }
        priced = await this.price(seen.outcome(messages, options.tools, seen.usage));
        this.report(priced, runManager);
        await scope.settle(priced, seen.answer);
        yield {
          ...event,
          ...(priced.cost.estimated ? { usage: toUsageMetadata(priced) } : {}),
          responseMetadata: { ...event.responseMetadata, cost: priced.cost },
        };
      }
    } finally {
      if (!priced) await this.cutShort(scope, seen, messages, options, runManager);
    }
  }

  /** Runs LangChain splits into one root run per input still share one budget, as one run would. */
  override async batch(
    inputs: BaseLanguageModelInput[],
    options?: Partial<CallOptions> | Partial<CallOptions>[],
    batchOptions?: RunnableBatchOptions & { returnExceptions?: false },
  ): Promise<AIMessageChunk[]>;
  override async batch(
    inputs: BaseLanguageModelInput[],
    options?: Partial<CallOptions> | Partial<CallOptions>[],
    batchOptions?: RunnableBatchOptions & { returnExceptions: true },
  ): Promise<(AIMessageChunk | Error)[]>;
  override async batch(
    inputs: BaseLanguageModelInput[],
    options?: Partial<CallOptions> | Partial<CallOptions>[],
    batchOptions?: RunnableBatchOptions,
  ): Promise<(AIMessageChunk | Error)[]>;
  override async batch(
    inputs: BaseLanguageModelInput[],
    options?: Partial<CallOptions> | Partial<CallOptions>[],
    batchOptions?: RunnableBatchOptions,
  ): Promise<(AIMessageChunk | Error)[]> {
    const list: Partial<CallOptions>[] = Array.isArray(options) ? options : inputs.map(() => options ?? {});
    const shared = list.some((config) => findBudget(config.callbacks)) ? undefined : this.budget.runBudget();
    const configs = shared
      ? list.map((config) => ({ ...config, callbacks: replaceBudget(config.callbacks, shared) }) as Partial<CallOptions>)
      : options;
    return super.batch(inputs, configs, batchOptions);
  }

  /** Plain `streamEvents()` drops the run's callbacks before the call: carry a budget among them across. */
  protected override _separateRunnableConfigFromCallOptionsCompat(
    options?: Partial<CallOptions>,
  ): [RunnableConfig, this["ParsedCallOptions"]] {
    const [config, callOptions] = super._separateRunnableConfigFromCallOptionsCompat(options);
    const budget = findBudget(config.callbacks);
    if (budget) (callOptions as CarriedBudget)[CARRIED_BUDGET] = budget;
    // ...and the run's metadata, which fills quota keys.
    if (config.metadata) (callOptions as CarriedBudget)[CARRIED_METADATA] = config.metadata;
    return [config, callOptions];
  }

  /**
   * A stream that ended without a priced response (the consumer stopped reading, an abort, an error): the
   * budget counts what it received (or releases it if nothing came), and `onCost` hears of a paid part.
   */
  private async cutShort(
    scope: BudgetScope,
    seen: StreamTally,
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager: CallbackManagerForLLMRun | undefined,
  ): Promise<void> {
    await scope.cutShort(seen.received);
    if (!seen.received) return;
    try {
      this.report(await this.price(seen.outcome(messages, options.tools)), runManager);
    } catch {
      // Pricing a partial answer must not hide why the stream ended.
    }
  }

  /**
   * The delegate (Chat Completions or Responses) a call goes to. Under a hard cap the call gets its own
   * max tokens: a per-call view of the delegate, so concurrent calls on one model don't share the setting.
   */
  private delegate(options: this["ParsedCallOptions"], maxTokens: number | undefined): ChatOpenAICompletions | ChatOpenAIResponses {
    const delegate = this._useResponsesApi(options) ? this.responses : this.completions;
    if (maxTokens === undefined) return delegate;
    const view = Object.create(delegate) as typeof delegate;
    view.maxTokens = maxTokens;
    return view;
  }

  private async *streamChunks(
    scope: BudgetScope,
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager: CallbackManagerForLLMRun | undefined,
  ): AsyncGenerator<ChatGenerationChunk> {
    const delegate = this.delegate(options, await scope.reserve(this.outputLimits()));
    yield* delegate._streamResponseChunks(messages, scope.withSignal(this._combineCallOptions(options)), runManager);
  }

  private async *modelEvents(
    scope: BudgetScope,
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager: CallbackManagerForLLMRun | undefined,
  ): AsyncGenerator<ChatModelStreamEvent> {
    const delegate = this.delegate(options, await scope.reserve(this.outputLimits()));
    yield* delegate._streamChatModelEvents(messages, scope.withSignal(this._combineCallOptions(options)), runManager);
  }

  /** What bounds a call's output: its own max tokens (-1 means none), the model's maximum, and `n`. */
  private outputLimits() {
    const requested = this.maxTokens === undefined || this.maxTokens < 0 ? undefined : this.maxTokens;
    const modelMax = (this.profile as { maxOutputTokens?: number }).maxOutputTokens;
    return { requestedMaxTokens: requested, modelMaxOutputTokens: modelMax, choices: this.n ?? 1 };
  }

  /** Marks this model's runs, so a budget's callbacks leave its calls to it (it reports them itself). */
  override getLsParams(options: this["ParsedCallOptions"]) {
    return { ...super.getLsParams(options), [METERED_METADATA_KEY]: true };
  }

  private request(messages: BaseMessage[], options: this["ParsedCallOptions"]): CallRequest {
    const { [CARRIED_BUDGET]: budget, [CARRIED_METADATA]: metadata } = options as CarriedBudget;
    return { messages, model: this.model, provider: this.provider, tools: options.tools, budget, metadata };
  }

  private price(outcome: Omit<CallOutcome, "model" | "provider"> & { model?: string | undefined }): Promise<PricedCall> {
    const model = outcome.model ?? servedModelOf(outcome.reply) ?? this.model;
    return priceCall(this.catalog, { ...outcome, model, provider: this.provider });
  }

  private report(priced: PricedCall, runManager: CallbackManagerForLLMRun | undefined): void {
    if (!this.onCost) return;
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
    try {
      this.onCost(record);
    } catch (error) {
      // The call was paid for and succeeded: a failing observer must not lose its answer.
      if (!this.onCostFailed) console.warn("langchain-metered: onCost threw; the call's answer is kept.", error);
      this.onCostFailed = true;
    }
  }
}

const CARRIED_BUDGET = Symbol("langchain-metered.budget");
const CARRIED_METADATA = Symbol("langchain-metered.metadata");
type CarriedBudget = { [CARRIED_BUDGET]?: BudgetCallbackHandler; [CARRIED_METADATA]?: Record<string, unknown> };

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
  /** The text (and tool-call arguments) received so far. */
  get answer(): string {
    return this.text;
  }
  /** Whether anything at all arrived. */
  received = false;
  private servedModel: string | undefined;
  usage: Partial<UsageMetadata> | undefined;

  /** Takes in a chunk; returns the text it added. */
  add(message: BaseMessage, generationModel?: unknown): string {
    this.received = true;
    const text = contentText(message.content) + toolCallText(message);
    this.text += text;
    const named = servedModelOf(message) ?? (typeof generationModel === "string" ? generationModel : undefined);
    if (named) this.servedModel = named;
    return text;
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
      this.usage = event.usage;
    }
    if (event.event === "message-finish") {
      const name = event.responseMetadata?.model_name;
      if (typeof name === "string" && name) this.servedModel = name;
    }
    return text;
  }

  outcome(messages: BaseMessage[], tools: unknown, usage?: Partial<UsageMetadata>) {
    return { messages, reply: new AIMessage({ content: this.text }), usage, model: this.servedModel, tools };
  }
}
