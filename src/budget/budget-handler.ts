import {
  BaseCallbackHandler,
  type HandleLLMNewTokenCallbackFields,
  type NewTokenIndices,
} from "@langchain/core/callbacks/base";
import type { Serialized } from "@langchain/core/load/serializable";
import { AIMessage, type AIMessageChunk, type BaseMessage, type UsageMetadata } from "@langchain/core/messages";
import type { ChatGenerationChunk, LLMResult } from "@langchain/core/outputs";
import { type PriceCatalog, type PriceSource, catalogFor } from "../pricing/catalog.js";
import { nanoToUsd, usdToNano } from "../pricing/money.js";
import { maxRate } from "../pricing/model-price.js";
import type { PriceOverrides } from "../pricing/overrides.js";
import { type CallOutcome, costOf, type PricedCall, priceCall, servedModelOf } from "../pricing/price-call.js";
import { countInputTokens } from "../usage/estimate.js";
import { normalizeUsage, ZERO_USAGE } from "../usage/usage.js";
import { isAbortError } from "./abort.js";
import type { BudgetDecision, BudgetView, CostRecord } from "./cost-record.js";
import { type CallPlan, type PlanInput, planCall } from "./hard-cap.js";
import { BudgetExceededError, type BudgetStop } from "./errors.js";
import { Ledger } from "./ledger.js";

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
}

/** @internal A call in flight: what it needs to be priced when it ends, or when it is cut short. */
export interface BudgetedCall {
  runId: string | undefined;
  parentRunId: string | undefined;
  messages: readonly BaseMessage[];
  model: string | undefined;
  provider: string | undefined;
  tools: unknown;
  /** A `MeteredChatModel` call: the model itself reports to the budget, the callbacks stand aside. */
  metered: boolean;
  /** Under a hard cap: what was planned and reserved before the call was sent. */
  plan?: CallPlan;
  /** Settled or released: nothing more is counted for it. */
  done?: boolean;
  /** Text received so far on a stream, and its UTF-8 size (an upper bound on its token count). */
  streamed: string;
  streamedBytes: number;
  inputBytes: number;
}

const DEFAULT_LIMIT_USD = 2;
const HANDLER_NAME = "langchain_metered_budget";
/** Metadata `MeteredChatModel` adds to its runs, so the callbacks leave its calls to it. */
export const METERED_METADATA_KEY = "ls_metered";

/**
 * A LangChain callback handler that prices every chat-model call in the runs it is attached to (any chat
 * model, from its `usage_metadata`) and stops the run once its spend crosses `limitUsd`: the call that
 * crosses throws `BudgetExceededError` and aborts `signal`, so calls still in flight stop, and every later
 * call is refused before it is sent.
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
  protected readonly ledger: Ledger;
  private readonly catalog: PriceCatalog;
  private readonly controller = new AbortController();
  private readonly inFlight = new Map<string, BudgetedCall>();
  private readonly costRecords: CostRecord[] = [];
  private readonly scope: string;
  /** @internal */
  protected capped: boolean;

  constructor(options: BudgetCallbackHandlerOptions = {}) {
    // raiseError must reach the base constructor: it also makes LangChain await the handler, so a throw
    // stops the call instead of surfacing later as an unhandled rejection.
    super({ raiseError: true });
    const limitUsd = options.limitUsd ?? DEFAULT_LIMIT_USD;
    if (!Number.isFinite(limitUsd) || limitUsd < 0) {
      throw new RangeError(`BudgetCallbackHandler: limitUsd must be a non-negative number of USD, got ${String(limitUsd)}.`);
    }
    this.ledger = new Ledger(this.initialLimit(usdToNano(limitUsd)));
    this.catalog = catalogFor(options.prices);
    this.scope = options.scope ?? "run";
    this.capped = options.hardCap ?? false;
  }

  /** @internal The limit the ledger starts with; the per-run budget starts with none. */
  protected initialLimit(limit: number): number | undefined {
    return limit;
  }

  /** @internal Whether a handler (from any copy of this package) is a budget handler. */
  static isBudgetHandler(handler: unknown): handler is BudgetCallbackHandler {
    const candidate = handler as Partial<BudgetCallbackHandler> | null;
    return candidate?.name === HANDLER_NAME && typeof candidate.begin === "function";
  }

  /** The limit, in USD; `Infinity` while a per-run budget has not been given one. */
  get limitUsd(): number {
    const limit = this.ledger.limitNano;
    return limit === undefined ? Infinity : nanoToUsd(limit);
  }

  /** What the calls so far cost, in USD. */
  get spentUsd(): number {
    return nanoToUsd(this.ledger.spentNano);
  }

  /** What is left, in USD (0 once the limit is reached). */
  get remainingUsd(): number {
    const limit = this.ledger.limitNano;
    return limit === undefined ? Infinity : nanoToUsd(Math.max(0, limit - this.ledger.spentNano));
  }

  /** One record per priced call, in the order they ended. */
  get records(): readonly CostRecord[] {
    return this.costRecords;
  }

  /** Aborted, with the `BudgetExceededError` as its reason, once the limit is crossed. Pass it as the run's `signal`. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /**
   * @internal A metered model offers its limit to the budget it runs under. An explicit budget keeps its
   * own; the per-run budget takes it (see `RunBudgetHandler`).
   */
  adopt(_limitUsd: number, _options?: { hardCap?: boolean }): void {}

  /** Whether this budget reserves before each call (see `hardCap`). */
  get hardCap(): boolean {
    return this.capped;
  }

  /**
   * @internal Under a hard cap, plans the call and reserves its worst case; throws the refusal when even a
   * short answer doesn't fit. Returns the max tokens to send, or `undefined` when there is no hard cap.
   */
  async reserve(call: BudgetedCall, limits: Pick<PlanInput, "requestedMaxTokens" | "modelMaxOutputTokens" | "choices">): Promise<CallPlan | undefined> {
    if (!this.capped || this.ledger.limitNano === undefined || !call.model) return undefined;
    const quote = this.catalog.get(call.model, call.provider);
    const countedInputTokens = await countInputTokens(call.messages, call.model, call.tools);
    // No await from here to the reservation: concurrent calls each see the others' holds.
    const plan = planCall({ price: quote.price, countedInputTokens, ...limits, availableNano: this.ledger.availableNano });
    if (plan.decision === "refused" || !this.ledger.reserve(plan.reservedNano)) {
      this.release(call);
      this.recordRefusal(call, quote.source);
      throw this.stopError("refused");
    }
    call.plan = plan;
    return plan;
  }

  /** @internal Starts (or picks up) a call and refuses it, before anything is sent, when the budget is spent. */
  begin(runId: string | undefined, call: Omit<BudgetedCall, "runId" | "streamed" | "streamedBytes" | "inputBytes">): BudgetedCall {
    if (this.signal.aborted || this.ledger.exhausted) throw this.stopError("refused");
    const known = runId ? this.inFlight.get(runId) : undefined;
    if (known) return known;
    const started: BudgetedCall = {
      ...call,
      runId,
      streamed: "",
      streamedBytes: 0,
      inputBytes: call.messages.reduce((sum, m) => sum + Buffer.byteLength(JSON.stringify(m.content)), 0),
    };
    if (runId) this.inFlight.set(runId, started);
    return started;
  }

  /** @internal Counts streamed text; throws, so the stream stops, as soon as its cost so far crosses the limit. */
  async observe(call: BudgetedCall, text: string): Promise<void> {
    if (!text || this.ledger.limitNano === undefined) return;
    call.streamed += text;
    call.streamedBytes += Buffer.byteLength(text);
    // A cheap bound first (every token is at least one byte); count tokens only when the limit is within reach.
    // The call's own reservation already counts against the limit: only what goes beyond it can cross.
    const held = call.plan?.reservedNano ?? 0;
    if (!this.ledger.wouldCross(this.worstCaseNano(call) - held)) return;
    const partial = await this.pricePartial(call);
    if (partial && this.ledger.wouldCross(partial.cost.nanoUsd - held)) this.settle(partial, call);
  }

  /** @internal Records a priced call; throws `BudgetExceededError` once the spend crosses the limit. */
  settle(priced: PricedCall, call: Pick<BudgetedCall, "runId" | "parentRunId" | "plan" | "done">): CostRecord {
    if (call.runId) this.inFlight.delete(call.runId);
    call.done = true;
    const plan = call.plan;
    call.plan = undefined; // settled once, even if a stream is priced again when it closes
    const crossed = plan ? this.ledger.settle(plan.reservedNano, priced.cost.nanoUsd) : this.ledger.charge(priced.cost.nanoUsd);
    const record: CostRecord = {
      runId: call.runId,
      parentRunId: call.parentRunId,
      model: priced.cost.model,
      provider: priced.cost.provider,
      usage: priced.usage,
      cost: priced.cost,
      estimated: priced.cost.estimated,
      at: new Date(),
      budget: this.view(crossed ? "exceeded" : (plan?.decision ?? "allowed"), plan),
    };
    this.costRecords.push(record);
    if (crossed) throw this.stopError("exceeded");
    return record;
  }

  /** @internal Forgets a call that failed without being paid for (an error status). */
  release(call: BudgetedCall): void {
    if (call.runId) this.inFlight.delete(call.runId);
    if (call.plan) this.ledger.release(call.plan.reservedNano);
    call.plan = undefined;
    call.done = true;
  }

  /** @internal Settles a call cut short by an abort with what it received (it was paid for as far as it got). */
  async settleCutShort(call: BudgetedCall): Promise<void> {
    if (call.done) return;
    const partial = await this.pricePartial(call);
    if (!partial || call.done) return this.release(call);
    try {
      this.settle(partial, call);
    } catch {
      // Already over the limit; the caller reports the budget's error.
    }
  }

  override async handleChatModelStart(
    _llm: Serialized,
    messages: BaseMessage[][],
    runId: string,
    parentRunId?: string,
    extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
  ): Promise<void> {
    const metered = metadata?.[METERED_METADATA_KEY] === true;
    if (metered) return; // the model begins, refuses and settles its own calls, without LangChain's error logging
    this.begin(runId, {
      parentRunId,
      messages: messages[0] ?? [],
      model: typeof metadata?.ls_model_name === "string" ? metadata.ls_model_name : undefined,
      provider: typeof metadata?.ls_provider === "string" ? metadata.ls_provider : undefined,
      tools: (extraParams?.invocation_params as { tools?: unknown } | undefined)?.tools,
      metered,
    });
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
    if (priced) this.settle(priced, call);
    else this.inFlight.delete(runId);
  }

  override async handleLLMError(error: unknown, runId: string): Promise<void> {
    const call = this.inFlight.get(runId);
    if (!call || call.metered || BudgetExceededError.isInstance(error)) {
      this.inFlight.delete(runId);
      return;
    }
    if (this.signal.aborted && isAbortError(error)) {
      await this.settleCutShort(call);
      throw this.signal.reason; // the abort came from this budget: say so
    }
    this.inFlight.delete(runId);
  }

  private view(decision: BudgetDecision, plan: CallPlan | undefined): BudgetView {
    return {
      decision,
      limitUsd: this.limitUsd,
      spentUsd: this.spentUsd,
      remainingUsd: this.remainingUsd,
      ...(plan ? { maxTokens: plan.maxTokens, reservedUsd: nanoToUsd(plan.reservedNano) } : {}),
    };
  }

  /** Under a hard cap, a refused call is on the record too, at no cost. */
  private recordRefusal(call: BudgetedCall, priceSource: PriceSource): void {
    this.costRecords.push({
      runId: call.runId,
      parentRunId: call.parentRunId,
      model: call.model ?? "unknown",
      provider: call.provider,
      usage: { ...ZERO_USAGE },
      cost: { totalUsd: 0, nanoUsd: 0, details: {}, model: call.model ?? "unknown", provider: call.provider, priceSource, estimated: false },
      estimated: false,
      at: new Date(),
      budget: this.view("refused", undefined),
    });
  }

  /** The error for a stop; crossing the limit also aborts the calls in flight (a refusal leaves them be). */
  private stopError(stop: BudgetStop): BudgetExceededError {
    const error = new BudgetExceededError({ limitUsd: this.limitUsd, spentUsd: this.spentUsd, scope: this.scope, stop });
    if (stop === "exceeded" && !this.signal.aborted) this.controller.abort(error);
    return error;
  }

  private priceEnded(call: BudgetedCall, message: BaseMessage | undefined): Promise<PricedCall | undefined> {
    const usage = (message as AIMessage | undefined)?.usage_metadata;
    const cost = costOf(message);
    if (cost) return Promise.resolve({ usage: normalizeUsage(usage), cost });
    return this.priceOrSkip(outcomeOf(call, message, usage));
  }

  private pricePartial(call: BudgetedCall): Promise<PricedCall | undefined> {
    return this.priceOrSkip(outcomeOf(call, new AIMessage(call.streamed), undefined));
  }

  /** Prices a call; a budget without a limit (a run no metered model joined) only counts, and never throws. */
  private async priceOrSkip(outcome: CallOutcome | undefined): Promise<PricedCall | undefined> {
    if (!outcome) return undefined;
    try {
      return await priceCall(this.catalog, outcome);
    } catch (error) {
      if (this.ledger.limitNano === undefined) return undefined;
      throw error;
    }
  }

  private worstCaseNano(call: BudgetedCall): number {
    const quote = call.model ? this.catalog.find(call.model, call.provider) : undefined;
    if (!quote) return Number.MAX_SAFE_INTEGER; // unknown price: always count precisely
    const { price } = quote;
    const highest = (rates: bigint[]) => rates.reduce((a, b) => (b > a ? b : a));
    const input = highest([price.input, price.cacheWrite, price.cacheWrite1h, price.inputAudio].map(maxRate));
    const output = highest([price.output, price.outputReasoning, price.outputAudio].map(maxRate));
    const femto = BigInt(call.inputBytes) * input + BigInt(call.streamedBytes) * output;
    return Number(femto / 1_000_000n) + 1;
  }
}

function outcomeOf(call: BudgetedCall, reply: BaseMessage | undefined, usage: UsageMetadata | undefined): CallOutcome | undefined {
  const model = servedModelOf(reply) ?? call.model;
  if (!model) return undefined;
  return { messages: call.messages, reply, usage, model, provider: call.provider, tools: call.tools };
}

/** @internal The tool-call names and arguments a stream chunk carries (they are output tokens too). */
export function toolCallText(message: BaseMessage | undefined): string {
  let text = "";
  for (const chunk of (message as AIMessageChunk | undefined)?.tool_call_chunks ?? []) text += (chunk.name ?? "") + (chunk.args ?? "");
  return text;
}
