import { BaseCallbackHandler, type HandleLLMNewTokenCallbackFields, type NewTokenIndices } from "@langchain/core/callbacks/base";
import type { Serialized } from "@langchain/core/load/serializable";
import type { AIMessage, BaseMessage } from "@langchain/core/messages";
import type { ChatGenerationChunk, LLMResult } from "@langchain/core/outputs";
import { z } from "zod";
import { Budget } from "../budget/budget.js";
import type { BudgetCall } from "../budget/budget-call.js";
import type { CostRecord } from "../budget/cost-record.js";
import { BudgetExceededError } from "../budget/errors.js";
import { planCall } from "../budget/plan.js";
import { type QuotaStatus, readQuotaStatus } from "../budget/quota-status.js";
import { expectRecord, recordFound } from "../budget/run-records.js";
import { installLangSmithCosts } from "../langchain/langsmith-costs.js";
import { parseOptions } from "../validation.js";
import { budgetOptionsShape, type BudgetOptions, budgetSettings } from "../budget/settings.js";
import { billedNothing, isAbortError, isMalformedAnswer, ProviderResponseError } from "../langchain/call-errors.js";
import { HANDLER_BUDGET, isMeteredCall } from "../langchain/call-options.js";
import { contentText, countInputTokens, toolCallText } from "../langchain/messages.js";
import { type CallOutcome, conservativeCharge, priceCall, servedModelOf, UnpriceableUsage } from "../langchain/price-call.js";
import { StreamWatch } from "../langchain/stream-watch.js";
import { catalogFor, type PriceCatalog } from "../pricing/catalog.js";
import { UnknownModelPriceError } from "../pricing/errors.js";
import { nanoToUsd } from "../pricing/money.js";
import type { PriceOverrides } from "../pricing/overrides.js";
import { baseUrlOfSerialized, resolveProvider } from "../pricing/providers.js";
import { InvalidUsageError } from "../usage/validate.js";

/** Options of {@link BudgetCallbackHandler}: a budget's limits (see `BudgetOptions`), prices, and the scope's name. */
export interface BudgetCallbackHandlerOptions extends BudgetOptions {
  /** Prices that add to or replace genai-prices' data, keyed by model name, in USD per 1M tokens. */
  prices?: PriceOverrides;
  /** What the budget covers, named in `BudgetExceededError.scope`. Default `"run"`. */
  scope?: string;
}

const handlerOptions = z.strictObject({
  ...budgetOptionsShape,
  prices: z.record(z.string(), z.unknown()).optional(),
  scope: z.string().min(1).optional(),
});

/** A plain (unmetered) model's call, from its start callback to its end. */
interface PlainCall {
  ticket: BudgetCall;
  outcome: Omit<CallOutcome, "reply" | "usage">;
  watch: StreamWatch;
  streamed: string;
}

type InvocationParams = { tools?: unknown; n?: unknown; max_tokens?: unknown; max_completion_tokens?: unknown; max_output_tokens?: unknown };

/**
 * A LangChain callback handler that budgets the runs it is attached to: it prices every chat-model call in
 * them (any chat model, from its `usage_metadata`) and stops the run once its spend crosses `limitUsd` or a
 * quota: the call that crosses throws `BudgetExceededError` and aborts `signal`, so calls still in flight
 * stop, and every later call is refused before it is sent. Metered models (`MeteredChatModel`, `meter()`)
 * in the run report to it themselves.
 *
 * @example
 * ```ts
 * const budget = new BudgetCallbackHandler({ limitUsd: 2 });
 * await agent.invoke(input, { callbacks: [budget], signal: budget.signal });
 * budget.spentUsd; budget.records;
 * ```
 */
export class BudgetCallbackHandler extends BaseCallbackHandler {
  override name = "langchain_metered_budget";
  /** @internal The budget core: metered models find it here (under a `Symbol.for` key) and report to it. */
  readonly [HANDLER_BUDGET]: Budget;
  private readonly catalog: PriceCatalog;
  private readonly calls = new Map<string, PlainCall>();

  /** @param entry @internal Where the options were given (`withBudget()` builds handlers), for errors. */
  constructor(options: BudgetCallbackHandlerOptions = {}, private readonly entry = "BudgetCallbackHandler") {
    // raiseError must reach the base constructor: it also makes LangChain await the handler, so a throw
    // stops the call instead of surfacing later as an unhandled rejection.
    super({ raiseError: true });
    installLangSmithCosts(); // a traced run under this budget shows the figure it counts
    const parsed = parseOptions(handlerOptions, options, entry, "");
    this.catalog = catalogFor(options.prices);
    this[HANDLER_BUDGET] = new Budget(budgetSettings(parsed, parsed.scope ?? "run"), true);
  }

  private get budget(): Budget {
    return this[HANDLER_BUDGET];
  }

  /** The limit, in USD. */
  get limitUsd(): number {
    const limit = this.budget.ledger.limitNano;
    return limit === undefined ? Infinity : nanoToUsd(limit);
  }

  /** What the scope's calls so far cost, in USD. */
  get spentUsd(): number {
    return nanoToUsd(this.budget.ledger.spentNano);
  }

  /** What calls in flight hold against the limit, in USD (a hard cap's reservations; 0 without one). */
  get heldUsd(): number {
    return nanoToUsd(this.budget.ledger.heldNano);
  }

  /** What is left of the limit, in USD (0 once it is reached). */
  get remainingUsd(): number {
    return this.budget.view("allowed").remainingUsd;
  }

  /**
   * Each quota's standing for a run's metadata, from the store in use: the filled key, the window, what it has
   * spent and holds, what is left and when it resets.
   *
   * @example
   * ```ts
   * const [tenant] = await budget.quotaStatus({ tenant: "acme" }); // { key: "tenant:acme", spentUsd, remainingUsd, resetsAt, … }
   * ```
   */
  quotaStatus(metadata: Record<string, unknown>): Promise<QuotaStatus[]> {
    const { quotas, store } = this.budget.current;
    return readQuotaStatus(quotas, store, metadata);
  }

  /** One record per ended (or, under a hard cap, refused) call, in the order they ended. */
  get records(): readonly CostRecord[] {
    return this.budget.records;
  }

  /** Aborted, with the `BudgetExceededError` as its reason, once the limit is crossed. Pass it as the run's `signal`. */
  get signal(): AbortSignal {
    return this.budget.signal;
  }

  /** Whether this budget holds each call's worst case before it is sent (see `hardCap`). */
  get hardCap(): boolean {
    return this.budget.hardCap;
  }

  /** How many entries the metering sink failed to take (it never fails a call). */
  get meterDropped(): number {
    return this.budget.meterDropped;
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
    // A metered model admits, holds and settles its own calls in this budget (and without LangChain's logging).
    if (isMeteredCall(extraParams?.options)) return;
    const invocation = extraParams?.invocation_params as InvocationParams | undefined;
    const model = typeof metadata?.ls_model_name === "string" ? metadata.ls_model_name : "unknown";
    // A plain ChatOpenAI pointed at Groq, DeepSeek, OpenRouter… is priced as the provider its URL belongs to.
    const provider = resolveProvider({
      lsProvider: typeof metadata?.ls_provider === "string" ? metadata.ls_provider : undefined,
      baseUrl: baseUrlOfSerialized(llm),
    });
    const budget = this.budget;
    // Never a silent $0: a model the budget can't price is refused before it is sent, not after it was paid.
    if (budget.enforcing && !this.catalog.find(model, provider)) throw new UnknownModelPriceError(model, provider, { entry: this.entry });
    const ticket = await budget.open({ model, provider, runId, parentRunId, metadata, holds: budget.hardCap });
    const outcome = { messages: messages[0] ?? [], model, provider, tools: invocation?.tools };
    // The caller's signal (LangChain passes the call options here): waiting for room honours it, and a call
    // whose caller gave up by then is never sent (the SDK refuses an aborted signal). Without it, a plain
    // call waited for its siblings' holds past its caller's abort, then was charged its whole hold, unsent.
    const signal = (extraParams?.options as { signal?: unknown } | undefined)?.signal;
    const callerSignal = signal instanceof AbortSignal ? signal : undefined;
    try {
      if (budget.hardCap && budget.enforcing) await this.holdWhole(ticket, outcome, invocation, callerSignal);
      callerSignal?.throwIfAborted();
    } catch (error) {
      await ticket.release();
      throw error;
    }
    expectRecord(runId); // tracers of this run (LangSmith, Langfuse) show the figure this budget counts
    ticket.markSent(); // LangChain sends the request as soon as its start callbacks return
    const watch = new StreamWatch(budget, this.catalog, outcome, () => ticket.plan?.reservedNano ?? 0);
    this.calls.set(runId, { ticket, outcome, watch, streamed: "" });
  }

  override async handleLLMNewToken(
    token: string,
    _idx: NewTokenIndices,
    runId: string,
    _parentRunId?: string,
    _tags?: string[],
    fields?: HandleLLMNewTokenCallbackFields,
  ): Promise<void> {
    const call = this.calls.get(runId);
    if (!call) return;
    const text = token + toolCallText((fields?.chunk as ChatGenerationChunk | undefined)?.message);
    call.streamed += text;
    const partial = await call.watch.observe(text);
    if (!partial) return;
    this.calls.delete(runId);
    try {
      await call.ticket.settle(partial, () => this.content(call, call.streamed)); // throws the budget's stop
    } finally {
      recordFound(runId, call.ticket.record);
    }
  }

  override async handleLLMEnd(output: LLMResult, runId: string): Promise<void> {
    const call = this.calls.get(runId);
    if (!call) return;
    this.calls.delete(runId);
    try {
      await this.endWithAnswer(call, output);
    } finally {
      recordFound(runId, call.ticket.record);
    }
  }

  private async endWithAnswer(call: PlainCall, output: LLMResult): Promise<void> {
    // With n > 1 every generation carries the same usage: the first one prices the call.
    const reply = (output.generations[0]?.[0] as { message?: BaseMessage } | undefined)?.message;
    // No message at all: a 200 whose body was not an answer (HTML, empty, `{}`). LangChain still ends the call
    // here (invoke then fails on the missing message, a stream just ends empty); priced as an answer with no
    // usage it came to the bare input, with no margin and under a hard cap below its hold, while the provider
    // may have billed the whole answer. Charge it as a failed call and say what came back.
    if (!reply) return this.endWithoutAnswer(call);
    const outcome: CallOutcome = { ...call.outcome, reply, usage: (reply as AIMessage | undefined)?.usage_metadata, model: servedModelOf(reply) ?? call.outcome.model };
    let priced;
    try {
      priced = await priceCall(this.catalog, outcome);
    } catch (error) {
      const reason = error instanceof UnpriceableUsage ? "invalid-usage" : UnknownModelPriceError.isInstance(error) ? "unknown-price" : "failed";
      const charged = await conservativeCharge(this.catalog, outcome, call.outcome, reason, this.heldOf(call));
      await call.ticket.settle(charged, () => this.content(call, contentText(reply?.content ?? "")));
      if (error instanceof UnpriceableUsage) {
        throw new InvalidUsageError({ model: charged.cost.model, provider: charged.cost.provider, problems: error.problems, chargedUsd: charged.cost.totalUsd });
      }
      throw error;
    }
    await call.ticket.settle(priced, () => this.content(call, reply ? contentText(reply.content) : ""));
  }

  override async handleLLMError(error: unknown, runId: string): Promise<void> {
    const call = this.calls.get(runId);
    if (!call) return;
    this.calls.delete(runId);
    try {
      await this.endWithError(call, error);
    } finally {
      recordFound(runId, call.ticket.record);
    }
  }

  private async endWithError(call: PlainCall, error: unknown): Promise<void> {
    const byBudget = this.budget.stopError !== undefined && (BudgetExceededError.isInstance(error) || isAbortError(error));
    if (call.ticket.ended) return;
    if (!byBudget && billedNothing(error)) return call.ticket.release();
    const received = { ...call.outcome, reply: call.streamed ? ({ content: call.streamed } as unknown as BaseMessage) : undefined };
    const charged = await conservativeCharge(this.catalog, received, call.outcome, byBudget || isAbortError(error) ? "cut-short" : "failed", this.heldOf(call));
    await call.ticket.settle(charged, () => this.content(call, call.streamed)).catch(() => {});
    if (byBudget) throw this.budget.stopError; // the abort came from this budget: say so
    // An answer that isn't one (an HTML page, an empty body, malformed server-sent events) reached a plain
    // model as a bare TypeError or SyntaxError; a metered model says what came back: so does the handler
    // (a throw here replaces the error LangChain rethrows).
    if (isMalformedAnswer(error)) {
      const { model, provider } = call.outcome;
      throw new ProviderResponseError({ model, provider, what: "sent something that is not an answer", cause: error });
    }
  }

  /** Charges a call whose answer had no message conservatively, and throws a `ProviderResponseError` naming it. */
  private async endWithoutAnswer(call: PlainCall): Promise<never> {
    const { model, provider } = call.outcome;
    const charged = await conservativeCharge(this.catalog, call.outcome, call.outcome, "failed", this.heldOf(call));
    try {
      await call.ticket.settle(charged, () => this.content(call, ""));
    } catch (error) {
      // Charging it crossed the limit: later calls are refused; this call still says why it failed.
      if (!BudgetExceededError.isInstance(error)) throw error;
    }
    throw new ProviderResponseError({ model, provider, what: "its answer has no message" });
  }

  /**
   * Under a hard cap, a model that isn't metered can't have its max tokens lowered: hold what it may spend
   * (its own max tokens, or the default maximum), and refuse it when the budget can't pay for all of it.
   */
  private async holdWhole(
    ticket: BudgetCall,
    outcome: PlainCall["outcome"],
    invocation: InvocationParams | undefined,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const quote = this.catalog.get(outcome.model, outcome.provider, undefined, { entry: this.entry });
    const requested = [invocation?.max_tokens, invocation?.max_completion_tokens, invocation?.max_output_tokens].find(
      (value): value is number => typeof value === "number" && value > 0,
    );
    const choices = typeof invocation?.n === "number" && invocation.n > 0 ? invocation.n : 1;
    const inputTokens = await countInputTokens(outcome.messages, outcome.model, outcome.tools);
    const planFor = (availableNano: number) => {
      const plan = planCall({ price: quote.price, inputTokens, requestedMaxTokens: requested, modelMaxOutputTokens: undefined, choices, availableNano });
      return plan.decision === "clamped" ? { ...plan, decision: "refused" as const, maxTokens: 0 as const, reservedNano: 0 as const } : plan;
    };
    await ticket.hold(planFor, quote.source, signal);
  }

  private heldOf(call: PlainCall): number {
    return this.budget.hardCap ? (call.ticket.plan?.reservedNano ?? 0) : 0;
  }

  private content(call: PlainCall, output: string): { input: string; output: string } {
    return { input: call.outcome.messages.map((m) => contentText(m.content)).join("\n"), output };
  }
}
