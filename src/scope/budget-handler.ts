import { randomUUID } from "node:crypto";
import {
  BaseCallbackHandler,
  type HandleLLMNewTokenCallbackFields,
  type NewTokenIndices,
} from "@langchain/core/callbacks/base";
import type { Serialized } from "@langchain/core/load/serializable";
import { AIMessage, type BaseMessage, type UsageMetadata } from "@langchain/core/messages";
import type { ChatGenerationChunk, LLMResult } from "@langchain/core/outputs";
import { type PriceCatalog, catalogFor } from "../pricing/catalog.js";
import { nanoToUsd, usdToNano } from "../pricing/money.js";
import { UnknownModelPriceError } from "../pricing/errors.js";
import type { PriceOverrides } from "../pricing/overrides.js";
import { costFromQuote } from "../pricing/price-usage.js";
import { baseUrlOfSerialized, resolveProvider } from "../pricing/providers.js";
import { type CallOutcome, costOf, type PricedCall, priceCall, servedModelOf } from "../pricing/price-call.js";
import { contentText, countInputTokens, encoderFor, toolCallText } from "../usage/estimate.js";
import { normalizeUsage, ZERO_USAGE } from "../usage/usage.js";
import { isAbortError } from "./abort.js";
import type { CostRecord } from "./cost-record.js";
import { BudgetExceededError } from "./errors.js";
import type { CallPlan, PlanInput } from "./hard-cap.js";
import { boundRates } from "./worst-case.js";
import type { MeterSink } from "./meter-sink.js";
import { parseQuotas, type Quota } from "./quotas.js";
import { type AdoptedSettings, type BudgetedCall, defaultStore, Spending, type StoreErrorPolicy } from "./spending.js";
import type { BudgetStore } from "./store.js";

export type { BudgetedCall } from "./spending.js";

/** Options of {@link BudgetCallbackHandler}. */
export interface BudgetCallbackHandlerOptions {
  /** The most this scope may spend, in USD. Default 2. */
  limitUsd?: number;
  /** Prices that add to or replace genai-prices' data, keyed by model name, in USD per 1M tokens. */
  prices?: PriceOverrides;
  /** What the budget covers, named in `BudgetExceededError.scope`. Default `"run"`. */
  scope?: string;
  /**
   * Never let spend cross the limit: reserve each call's worst case before it is sent, lower its max tokens
   * to what the budget can pay for, and refuse it when even a short answer doesn't fit. Default false.
   */
  hardCap?: boolean;
  /** Limits over calendar windows shared by every run whose metadata fills their keys (a user's day, a tenant's month). */
  quotas?: Quota[];
  /** Where quotas keep their spend: in this process by default, or shared (`RedisBudgetStore`). */
  store?: BudgetStore;
  /** When the store can't answer: `"deny"` the call (default; budgets fail closed) or `"allow"` it and meter locally. */
  onStoreError?: StoreErrorPolicy;
  /** A metering log: one entry per priced call (`JsonlMeterSink`, or your own). */
  meter?: MeterSink;
  /** How long a hard cap's hold lives in the store if its worker dies before settling. Default 10 minutes. */
  reservationTtlMs?: number;
}

const DEFAULT_LIMIT_USD = 2;
const HANDLER_NAME = "langchain_metered_budget";
/** Metadata `MeteredChatModel` adds to its runs, so the callbacks leave its calls to it. */
export const METERED_METADATA_KEY = "ls_metered";

/**
 * A LangChain callback handler that prices every chat-model call in the runs it is attached to (any chat
 * model, from its `usage_metadata`) and stops the run once its spend crosses `limitUsd` or a quota: the call
 * that crosses throws `BudgetExceededError` and aborts `signal`, so calls still in flight stop, and every
 * later call is refused before it is sent.
 *
 * @example
 * ```ts
 * const budget = new BudgetCallbackHandler({ limitUsd: 2 });
 * await agent.invoke(input, { callbacks: [budget], signal: budget.signal });
 * budget.spentUsd; budget.records;
 * ```
 */
export class BudgetCallbackHandler extends BaseCallbackHandler {
  override name = HANDLER_NAME;
  /** @internal */
  protected readonly spending: Spending;
  private readonly catalog: PriceCatalog;
  private readonly inFlight = new Map<string, BudgetedCall>();

  constructor(options: BudgetCallbackHandlerOptions = {}) {
    // raiseError must reach the base constructor: it also makes LangChain await the handler, so a throw
    // stops the call instead of surfacing later as an unhandled rejection.
    super({ raiseError: true });
    const limitUsd = options.limitUsd ?? DEFAULT_LIMIT_USD;
    if (!Number.isFinite(limitUsd) || limitUsd < 0) {
      throw new RangeError(`BudgetCallbackHandler: limitUsd must be a non-negative number of USD, got ${String(limitUsd)}.`);
    }
    this.catalog = catalogFor(options.prices);
    this.spending = new Spending({
      limitNano: this.initialLimit(usdToNano(limitUsd)),
      hardCap: options.hardCap ?? false,
      quotas: parseQuotas(options.quotas),
      store: options.store ?? defaultStore,
      meter: options.meter,
      onStoreError: options.onStoreError ?? "deny",
      scope: options.scope ?? "run",
      reservationTtlMs: options.reservationTtlMs ?? 10 * 60 * 1000,
    });
  }

  /** @internal The limit the run starts with; the per-run budget starts with none. */
  protected initialLimit(limit: number): number | undefined {
    return limit;
  }

  /** @internal Whether a handler (from any copy of this package) is a budget handler. */
  static isBudgetHandler(handler: unknown): handler is BudgetCallbackHandler {
    const candidate = handler as Partial<BudgetCallbackHandler> | null;
    return candidate?.name === HANDLER_NAME && typeof candidate.begin === "function";
  }

  /** The run's limit, in USD; `Infinity` while a per-run budget has not been given one. */
  get limitUsd(): number {
    const limit = this.spending.ledger.limitNano;
    return limit === undefined ? Infinity : nanoToUsd(limit);
  }

  /** What the run's calls so far cost, in USD. */
  get spentUsd(): number {
    return nanoToUsd(this.spending.ledger.spentNano);
  }

  /** What is left of the run's limit, in USD (0 once it is reached). */
  get remainingUsd(): number {
    return this.spending.view("allowed").remainingUsd;
  }

  /** One record per priced (or, under a hard cap, refused) call, in the order they ended. */
  get records(): readonly CostRecord[] {
    return this.spending.records;
  }

  /** Aborted, with the `BudgetExceededError` as its reason, once the limit is crossed. Pass it as the run's `signal`. */
  get signal(): AbortSignal {
    return this.spending.signal;
  }

  /** Whether this budget reserves before each call (see `hardCap`). */
  get hardCap(): boolean {
    return this.spending.hardCap;
  }

  /** How many entries the metering sink failed to take (it never fails a call). */
  get meterDropped(): number {
    return this.spending.meterDropped;
  }

  /**
   * @internal A metered model offers its limit to the budget it runs under. An explicit budget keeps its
   * own; the per-run budget takes it (see `RunBudgetHandler`).
   */
  adopt(_limitUsd: number, _settings?: Omit<AdoptedSettings, "limitNano">): void {}

  /** @internal Starts (or picks up) a call and refuses it, before anything is sent, when a limit is spent. */
  async begin(
    runId: string | undefined,
    call: Pick<BudgetedCall, "parentRunId" | "messages" | "model" | "provider" | "tools" | "metadata" | "metered" | "catalog">,
  ): Promise<BudgetedCall> {
    const known = runId ? this.inFlight.get(runId) : undefined;
    // Tracked at handleChatModelStart (with the run's metadata); the model adds what only it knows.
    if (known) known.catalog ??= call.catalog;
    const started = known ?? this.track(runId, call);
    try {
      await this.spending.admit(started);
    } catch (error) {
      this.forget(started);
      throw error;
    }
    return started;
  }

  /**
   * @internal Under a hard cap, plans the call and reserves its worst case; throws the refusal when even a
   * short answer doesn't fit. Returns the plan, or `undefined` when there is no hard cap.
   */
  async reserve(
    call: BudgetedCall,
    limits: Pick<PlanInput, "requestedMaxTokens" | "modelMaxOutputTokens" | "choices">,
  ): Promise<CallPlan | undefined> {
    if (!this.spending.hardCap || !this.spending.enforcing || !call.model) return undefined;
    const quote = this.catalogOf(call).get(call.model, call.provider);
    const countedInputTokens = await this.inputTokens(call, call.model);
    try {
      return await this.spending.reserve(call, quote.price, quote.source, { countedInputTokens, ...limits });
    } catch (error) {
      this.forget(call);
      throw error;
    }
  }

  /** @internal Counts streamed text; throws, so the stream stops, as soon as its cost so far crosses the limit. */
  async observe(call: BudgetedCall, text: string): Promise<void> {
    const ledger = this.spending.ledger;
    if (!text || ledger.limitNano === undefined) return;
    call.streamed += text;
    call.streamedBytes += Buffer.byteLength(text);
    // A cheap bound first (every token is at least one byte); count tokens only when the limit is within reach.
    // The call's own reservation already counts against the limit: only what goes beyond it can cross.
    const held = call.plan?.reservedNano ?? 0;
    if (!ledger.wouldCross(this.worstCaseNano(call) - held)) return;
    // Near the limit: price what was received (tokens counted once per piece, so a long stream stays linear).
    const partial = await this.pricePartial(call);
    if (partial && ledger.wouldCross(partial.cost.nanoUsd - held)) await this.settle(partial, call);
  }

  /** @internal Records a priced call; throws `BudgetExceededError` once the spend crosses a limit. */
  settle(priced: PricedCall, call: BudgetedCall, answer?: string): Promise<CostRecord> {
    this.forget(call);
    return this.spending.settle(call, priced, answer);
  }

  /** @internal Forgets a call that failed without being paid for (an error status), releasing its holds. */
  release(call: BudgetedCall): Promise<void> {
    this.forget(call);
    return this.spending.release(call);
  }

  /** @internal Settles a call cut short with what it received (it was paid for as far as it got). Never throws. */
  async settleCutShort(call: BudgetedCall): Promise<void> {
    if (call.done) return;
    const partial = await this.pricePartial(call).catch(() => undefined);
    if (!partial || call.done) return this.release(call);
    await this.settle(partial, call).catch(() => {});
  }

  override async handleChatModelStart(
    llm: Serialized,
    messages: BaseMessage[][],
    runId: string,
    parentRunId?: string,
    extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
  ): Promise<void> {
    const invocation = extraParams?.invocation_params as InvocationParams | undefined;
    const call = {
      parentRunId,
      messages: messages[0] ?? [],
      model: typeof metadata?.ls_model_name === "string" ? metadata.ls_model_name : undefined,
      // A plain ChatOpenAI pointed at Groq, DeepSeek, OpenRouter… is priced as the provider its URL belongs to.
      provider: resolveProvider({
        lsProvider: typeof metadata?.ls_provider === "string" ? metadata.ls_provider : undefined,
        baseUrl: baseUrlOfSerialized(llm),
      }),
      tools: invocation?.tools,
      metadata,
      metered: metadata?.[METERED_METADATA_KEY] === true,
    };
    // A metered model begins, refuses and settles its own calls (without LangChain's error logging); it
    // finds the call, with the run's metadata, under its run id.
    if (call.metered) {
      this.track(runId, call);
      return;
    }
    const started = await this.begin(runId, call);
    if (this.spending.hardCap) await this.reserveUnmetered(started, invocation);
  }

  override async handleLLMNewToken(
    token: string,
    _idx: NewTokenIndices,
    runId: string,
    _parentRunId?: string,
    _tags?: string[],
    fields?: HandleLLMNewTokenCallbackFields,
  ): Promise<void> {
    const call = this.inFlight.get(runId);
    if (!call || call.metered) return;
    await this.observe(call, token + toolCallText((fields?.chunk as ChatGenerationChunk | undefined)?.message));
  }

  override async handleLLMEnd(output: LLMResult, runId: string): Promise<void> {
    const call = this.inFlight.get(runId);
    if (!call || call.metered) return;
    // With n > 1 every generation carries the same usage: the first one prices the call.
    const message = (output.generations[0]?.[0] as { message?: BaseMessage } | undefined)?.message;
    const priced = await this.priceEnded(call, message);
    if (priced) await this.settle(priced, call, message ? contentText(message.content) : "");
    else await this.release(call);
  }

  override async handleLLMError(error: unknown, runId: string): Promise<void> {
    const call = this.inFlight.get(runId);
    if (!call || call.metered || call.done || BudgetExceededError.isInstance(error)) {
      if (call && !call.metered) await this.release(call);
      return;
    }
    if (this.signal.aborted && isAbortError(error)) {
      await this.settleCutShort(call);
      throw this.signal.reason; // the abort came from this budget: say so
    }
    await this.release(call);
  }

  private track(
    runId: string | undefined,
    call: Pick<BudgetedCall, "parentRunId" | "messages" | "model" | "provider" | "tools" | "metadata" | "metered" | "catalog">,
  ): BudgetedCall {
    const tracked: BudgetedCall = {
      ...call,
      callId: randomUUID(),
      runId,
      streamed: "",
      streamedBytes: 0,
    };
    if (runId) this.inFlight.set(runId, tracked);
    return tracked;
  }

  private forget(call: BudgetedCall): void {
    if (call.runId) this.inFlight.delete(call.runId);
  }

  private priceEnded(call: BudgetedCall, message: BaseMessage | undefined): Promise<PricedCall | undefined> {
    const usage = (message as AIMessage | undefined)?.usage_metadata;
    const cost = costOf(message);
    if (cost) return Promise.resolve({ usage: normalizeUsage(usage, call.provider), cost });
    return this.priceOrSkip(outcomeOf(call, message, usage));
  }

  /** Prices what a call received so far, counting tokens incrementally: estimated, as no usage came. */
  private async pricePartial(call: BudgetedCall): Promise<PricedCall | undefined> {
    if (!call.model) return undefined;
    const quote = this.catalogOf(call).find(call.model, call.provider);
    if (!quote) {
      if (!this.spending.enforcing) return undefined;
      throw new UnknownModelPriceError(call.model, call.provider);
    }
    const inputTokens = await this.inputTokens(call, call.model);
    const encoder = await encoderFor(call.model);
    call.outputTokens = (call.outputTokens ?? 0) + encoder.encode(call.streamed.slice(call.countedChars ?? 0)).length;
    call.countedChars = call.streamed.length;
    const usage = { ...ZERO_USAGE, inputTokens, outputTokens: call.outputTokens };
    return { usage, cost: costFromQuote(usage, quote, call.model, true) };
  }

  /** The call's input tokens, counted locally once. */
  private async inputTokens(call: BudgetedCall, model: string): Promise<number> {
    call.inputTokens ??= await countInputTokens(call.messages, model, call.tools);
    return call.inputTokens;
  }

  /**
   * Under a hard cap, a model that isn't metered can't have its max tokens lowered: reserve what it may
   * spend (its own max tokens, or the default maximum), and refuse it when the budget can't pay for all of it.
   */
  private async reserveUnmetered(call: BudgetedCall, invocation: InvocationParams | undefined): Promise<void> {
    const requested = invocation?.max_tokens ?? invocation?.max_completion_tokens ?? invocation?.max_output_tokens;
    const plan = await this.reserve(call, {
      requestedMaxTokens: typeof requested === "number" && requested > 0 ? requested : undefined,
      modelMaxOutputTokens: undefined,
      choices: typeof invocation?.n === "number" && invocation.n > 0 ? invocation.n : 1,
    });
    if (plan?.decision === "clamped") {
      await this.release(call);
      throw this.spending.stop("refused");
    }
  }

  private catalogOf(call: BudgetedCall): PriceCatalog {
    return call.catalog ?? this.catalog;
  }

  /** Prices a call; a budget with nothing to enforce (a run no metered model joined) only counts, never throws. */
  private async priceOrSkip(outcome: (CallOutcome & { catalog?: PriceCatalog | undefined }) | undefined): Promise<PricedCall | undefined> {
    if (!outcome) return undefined;
    try {
      return await priceCall(outcome.catalog ?? this.catalog, outcome);
    } catch (error) {
      if (!this.spending.enforcing) return undefined;
      throw error;
    }
  }

  /** An upper bound on what the call has cost so far, from byte counts (every token is at least one byte). */
  private worstCaseNano(call: BudgetedCall): number {
    // Every chunk asks: the rates and the input's size are worked out once per call.
    if (call.bound === undefined) {
      const quote = call.model ? this.catalogOf(call).find(call.model, call.provider) : undefined;
      call.bound = quote ? boundRates(quote.price) : null;
    }
    if (!call.bound) return Number.MAX_SAFE_INTEGER; // unknown price: always count precisely
    call.inputBytes ??= call.messages.reduce((sum, m) => sum + Buffer.byteLength(JSON.stringify(m.content)), 0);
    const femto = BigInt(call.inputBytes) * call.bound.input + BigInt(call.streamedBytes) * call.bound.output;
    return Number(femto / 1_000_000n) + 1;
  }

}

type InvocationParams = {
  tools?: unknown;
  n?: unknown;
  max_tokens?: unknown;
  max_completion_tokens?: unknown;
  max_output_tokens?: unknown;
};

function outcomeOf(
  call: BudgetedCall,
  reply: BaseMessage | undefined,
  usage: UsageMetadata | undefined,
): (CallOutcome & { catalog?: PriceCatalog | undefined }) | undefined {
  const model = servedModelOf(reply) ?? call.model;
  if (!model) return undefined;
  return { messages: call.messages, reply, usage, model, provider: call.provider, tools: call.tools, catalog: call.catalog };
}

