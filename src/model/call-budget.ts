import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import { AsyncLocalStorageProviderSingleton } from "@langchain/core/singletons";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { BaseMessage } from "@langchain/core/messages";
import { isAbortError } from "../budget/abort.js";
import { type BudgetCallbackHandlerOptions, type BudgetedCall, BudgetCallbackHandler } from "../budget/budget-handler.js";
import { parseQuotas } from "../budget/quotas.js";
import type { PriceCatalog } from "../pricing/catalog.js";
import { findBudget } from "../budget/callbacks.js";
import { BudgetExceededError } from "../budget/errors.js";
import { RunBudgetHandler } from "../budget/run-budget.js";
import type { PriceOverrides } from "../pricing/overrides.js";
import type { PricedCall } from "../pricing/price-call.js";

/**
 * A model's `budget` option: a per-run limit in USD (default 2), optionally a hard cap that the run can't
 * cross, quotas over calendar windows with their store and failure policy, a metering log (see
 * `BudgetCallbackHandlerOptions`), and a downgrade once the run has spent a fraction of its limit (see
 * {@link DowngradeOption}); or `false` to meter without a limit.
 */
export type BudgetOption =
  | (Pick<
      BudgetCallbackHandlerOptions,
      "limitUsd" | "hardCap" | "quotas" | "store" | "onStoreError" | "meter" | "reservationTtlMs"
    > & {
      downgrade?: DowngradeOption;
    })
  | false;

/**
 * Where a run's later calls go once it has spent `atFraction` of its limit: `to` is a model name on the
 * same API (same provider, same settings) or any LangChain chat model (another provider: a hot swap).
 * Bound tools, tool choice and structured-output settings carry over.
 */
export interface DowngradeOption {
  /** The share of the run's limit (0–1) from which calls are downgraded, e.g. 0.8. */
  atFraction: number;
  /** A model name on the same API, or a chat model instance. */
  to: string | BaseChatModel;
}

const DEFAULT_LIMIT_USD = 2;

/** State shared by a model and the copies `bindTools`/`withConfig` make of it (they share one fields object). */
interface Fallback {
  handler?: BudgetCallbackHandler;
  warned: boolean;
}
const fallbacks = new WeakMap<object, Fallback>();

/** @internal What the budget needs to know about a call before it is sent. */
export interface CallRequest {
  messages: readonly BaseMessage[];
  model: string;
  provider: string | undefined;
  tools: unknown;
  /** A budget handed over outside the callbacks (plain `streamEvents()` drops the run's callbacks). */
  budget?: BudgetCallbackHandler | undefined;
  /** The run's metadata, handed over the same way (it fills quota keys). */
  metadata?: Record<string, unknown> | undefined;
  /** The model's own prices, which the budget uses before its own. */
  catalog?: PriceCatalog | undefined;
}

/**
 * The budget of the run LangChain is executing, when a call gets no run manager of its own (LangGraph's
 * v3 event streaming calls the model that way).
 */
function contextBudget(): BudgetCallbackHandler | undefined {
  return findBudget(AsyncLocalStorageProviderSingleton.getRunnableConfig()?.callbacks);
}

/**
 * @internal How a metered model finds the budget a call runs under: the budget handler among the run's
 * callbacks (the per-run one, or the user's own), or, where LangChain gave the call none, a fallback.
 */
export class CallBudget {
  private constructor(
    private readonly limitUsd: number | undefined,
    private readonly settings: Omit<Exclude<BudgetOption, false>, "downgrade">,
    private readonly prices: PriceOverrides | undefined,
    private readonly fallback: Fallback,
  ) {}

  static for(fields: { prices?: PriceOverrides }, option: BudgetOption | undefined): CallBudget {
    const limitUsd = option === false ? undefined : (option?.limitUsd ?? DEFAULT_LIMIT_USD);
    if (limitUsd !== undefined && (!Number.isFinite(limitUsd) || limitUsd < 0)) {
      throw new RangeError(`budget.limitUsd must be a non-negative number of USD, got ${String(limitUsd)}.`);
    }
    let fallback = fallbacks.get(fields);
    if (!fallback) fallbacks.set(fields, (fallback = { warned: false }));
    if (option) parseQuotas(option.quotas); // a bad quota fails at construction
    const { downgrade: _, ...settings } = option || {};
    return new CallBudget(limitUsd, settings, fields.prices, fallback);
  }

  /**
   * Finds the budget a call runs under (the run's handler, one handed over outside the callbacks, or this
   * model's fallback) without beginning the call: its spend decides a downgrade before the call is named.
   * `standalone`: the call is its own run (`streamEvents()` without callbacks).
   */
  locate(
    runManager: CallbackManagerForLLMRun | undefined,
    carried: BudgetCallbackHandler | undefined,
    { standalone = false } = {},
  ): BudgetCallbackHandler | undefined {
    const attached = runManager ? runManager.handlers.find(BudgetCallbackHandler.isBudgetHandler) : (carried ?? contextBudget());
    if (attached) {
      if (this.limitUsd !== undefined) attached.adopt(this.limitUsd, this.settings);
      return attached;
    }
    if (this.limitUsd === undefined) return undefined;
    return standalone ? this.handler("call") : this.fallbackHandler();
  }

  /** Begins the call on the budget `locate` found, refusing it before anything is sent when the budget is spent. */
  async begin(
    handler: BudgetCallbackHandler | undefined,
    runManager: CallbackManagerForLLMRun | undefined,
    request: CallRequest,
  ): Promise<BudgetScope> {
    if (!handler) return NO_BUDGET;
    const { budget: _, metadata: carried, ...call } = request;
    // Quota keys are filled from the run's metadata; a call without a run manager finds it in the context.
    const metadata = runManager ? undefined : (AsyncLocalStorageProviderSingleton.getRunnableConfig()?.metadata ?? carried);
    const started = await handler.begin(runManager?.runId, { ...call, metadata, parentRunId: runManager?.parentRunId, metered: true });
    return new BudgetScope(handler, started);
  }

  /** `locate` then `begin`. */
  open(runManager: CallbackManagerForLLMRun | undefined, request: CallRequest, options: { standalone?: boolean } = {}): Promise<BudgetScope> {
    return this.begin(this.locate(runManager, request.budget, options), runManager, request);
  }

  /** A fresh run budget of this model's limit, for runs LangChain splits up (`batch` makes each input a root run). */
  runBudget(): RunBudgetHandler | undefined {
    if (this.limitUsd === undefined) return undefined;
    const budget = new RunBudgetHandler({ prices: this.prices });
    budget.adopt(this.limitUsd, this.settings);
    return budget;
  }

  private handler(scope: string): BudgetCallbackHandler {
    return new BudgetCallbackHandler({ ...this.settings, limitUsd: this.limitUsd, prices: this.prices, scope });
  }

  /**
   * No per-run budget reached this call: the library was first imported inside an async context that
   * already existed, or LANGCHAIN_METERED_RUN_BUDGET=false. Never run unbudgeted: all calls of this model
   * (and its `bindTools` copies) share one budget of its limit.
   */
  private fallbackHandler(): BudgetCallbackHandler {
    if (!this.fallback.warned) {
      this.fallback.warned = true;
      console.warn(
        `langchain-metered: no per-run budget reached this call, so this model's $${this.limitUsd} limit now covers ` +
          "all its calls together. Import langchain-metered at start-up (before servers and timers are created) " +
          "to get one budget per run, or pass a BudgetCallbackHandler in the run's callbacks.",
      );
    }
    return (this.fallback.handler ??= this.handler("model"));
  }
}

/** @internal One call on the budget it runs under. */
export class BudgetScope {
  constructor(
    private readonly handler: BudgetCallbackHandler | undefined,
    private readonly call: BudgetedCall | undefined,
  ) {}

  /** The share of its limit the budget had spent when the call began (0 without a finite limit). */
  static spentFraction(handler: BudgetCallbackHandler | undefined): number {
    const limit = handler?.limitUsd;
    if (!handler || limit === undefined || !Number.isFinite(limit)) return 0;
    return limit > 0 ? handler.spentUsd / limit : 1;
  }

  /** The call's options with the budget's signal merged in, so crossing the limit aborts it in flight. */
  withSignal<T extends { signal?: AbortSignal }>(options: T): T {
    if (!this.handler) return options;
    const budget = this.handler.signal;
    return { ...options, signal: options.signal ? AbortSignal.any([options.signal, budget]) : budget };
  }

  /** Runs the call; an abort the budget caused becomes the budget's error, a failed call is released. */
  async guard<T>(request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      throw await this.failed(error);
    }
  }

  /** `guard` for a stream. */
  async *guardEach<T>(items: AsyncIterable<T>): AsyncGenerator<T> {
    try {
      yield* items;
    } catch (error) {
      throw await this.failed(error);
    }
  }

  /** Under a hard cap, reserves the call's worst case and returns the max tokens to send. */
  async reserve(limits: Parameters<BudgetCallbackHandler["reserve"]>[1]): Promise<number | undefined> {
    if (!this.handler || !this.call) return undefined;
    return (await this.handler.reserve(this.call, limits))?.maxTokens;
  }

  /**
   * Ends a call that stopped without a priced response (the consumer stopped reading, or it failed): what
   * it received is counted, a call that received nothing is released. Never throws.
   */
  async cutShort(received: boolean): Promise<void> {
    if (!this.handler || !this.call) return;
    if (received) await this.handler.settleCutShort(this.call);
    else await this.handler.release(this.call);
  }

  /** Counts streamed text; throws once the stream's cost so far crosses the limit. */
  async observe(text: string): Promise<void> {
    if (this.handler && this.call) await this.handler.observe(this.call, text);
  }

  /** Charges the call's cost; throws once the spend crosses a limit. `answer` is for a metering log with content. */
  async settle(priced: PricedCall, answer?: string): Promise<void> {
    if (this.handler && this.call) await this.handler.settle(priced, this.call, answer);
  }

  private async failed(error: unknown): Promise<unknown> {
    if (!this.handler || !this.call || BudgetExceededError.isInstance(error)) return error;
    if (this.handler.signal.aborted && isAbortError(error)) {
      await this.handler.settleCutShort(this.call);
      return this.handler.signal.reason;
    }
    await this.handler.release(this.call);
    return error;
  }
}

const NO_BUDGET = new BudgetScope(undefined, undefined);
