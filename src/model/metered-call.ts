import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import type { BaseMessage } from "@langchain/core/messages";
import type { BudgetCall, PricedCall } from "../budget/budget-call.js";
import { type CostRecord, linkErrorRecord } from "../budget/cost-record.js";
import { BudgetExceededError } from "../budget/errors.js";
import type { CallPlan } from "../budget/plan.js";
import type { BudgetSettings } from "../budget/settings.js";
import { contentText } from "../langchain/messages.js";
import { trackRecord } from "../langchain/cost-tracker.js";
import { type CallOutcome, conservativeCharge, priceCall, respondedAt, servedModelOf, UnpriceableUsage } from "../langchain/price-call.js";
import { StreamWatch } from "../langchain/stream-watch.js";
import type { PriceCatalog } from "../pricing/catalog.js";
import { UnknownModelPriceError } from "../pricing/errors.js";
import { missingRateName } from "../pricing/model-price.js";
import type { CostSource, EstimateReason, MissingRate } from "../pricing/price-usage.js";
import { reportedCostOf } from "../pricing/reported-cost.js";
import { usageContract } from "../usage/providers.js";
import { InvalidUsageError, reportsUsage } from "../usage/validate.js";
import { billedNothing, isAbortError, isMalformedAnswer, ProviderResponseError } from "../langchain/call-errors.js";
import type { CallOptions, CallTarget } from "./call-target.js";
import type { Downgrade, Route } from "./downgrade.js";
import type { HeaderCapture } from "./response-headers.js";

/** @internal How a metered model meters: shared by `MeteredChatModel` and `meter()`. */
export interface MeteringSettings {
  catalog: PriceCatalog;
  /** The model's `budget` option, validated; `undefined` for `budget: false`. */
  budget: BudgetSettings | undefined;
  onCost: ((record: CostRecord) => void) | undefined;
  costSource: CostSource;
  downgrade: Downgrade | undefined;
  /** Captures each call's response headers, where a cost header can come (a proxy in front of the provider). */
  captureHeaders?: (() => HeaderCapture) | undefined;
  /** Where the model was configured (`"MeteredChatModel"`, `"meter()"`), for errors that say how to fix it. */
  entry: string;
  /** Usage the price has no rate for: an estimate at the text rate, or an error (see `MeteringFields`). */
  missingRates: "estimate" | "error";
}

type Run = CallbackManagerForLLMRun | undefined;

/** @internal What a call received before it ended, as far as pricing it goes. */
export type Received = Pick<CallOutcome, "reply" | "usage" | "rawUsage" | "at"> & { model?: string | undefined };

let onCostFailed = false;
const warnedMissingRates = new Set<string>();

/** Once per model and kind: audio priced at the text rate is likely under, and the user can fix it. */
function warnMissingRates(model: string, missing: readonly MissingRate[]): void {
  const fresh = missing.filter((kind) => !warnedMissingRates.has(`${model}\u0000${kind}`));
  if (!fresh.length) return;
  for (const kind of fresh) warnedMissingRates.add(`${model}\u0000${kind}`);
  console.warn(
    `langchain-metered: the price of "${model}" has no ${fresh.map(missingRateName).join(" or ")} rate; those tokens are charged ` +
      `at the text rate and the cost is marked estimated (likely under). Add the rate with \`prices\` (e.g. ` +
      `{ "${model}": { input, output, ${fresh.join(", ")} } }), or refuse such calls with \`missingRates: "error"\`.`,
  );
}

/** What a conservative charge that crossed a limit is settled at: its record; any other failure is thrown. */
function keepUnlessBudgetStop(call: MeteredCall) {
  return (error: unknown): PricedCall => {
    const record = call.ticket.record;
    if (!BudgetExceededError.isInstance(error) || !record) throw error;
    return { usage: record.usage, cost: record.cost };
  };
}

/** A sibling cut short by the budget's stop throws a copy of it: its own error, leading to its own record. */
function ownCopy(stop: BudgetExceededError): BudgetExceededError {
  return new BudgetExceededError({ ...stop, cause: stop });
}

/**
 * @internal One metered call, from the moment its budget admitted it to its end: what it is sent with, and
 * the one way it ends whatever happens (`finish` with its answer, `fail` with an error, `cutShort` when it
 * stopped early). Every end goes through the budget call, which counts it once; a call that was sent is
 * never ended at $0 unless the provider said it billed nothing.
 */
export class MeteredCall {
  private streamWatch: StreamWatch | undefined;
  /** When the request left: the time its date- and time-dependent prices are read at, unless the response says. */
  private sentAt: Date | undefined;

  constructor(
    private readonly settings: MeteringSettings,
    readonly ticket: BudgetCall,
    readonly route: Route,
    readonly messages: BaseMessage[],
    readonly runManager: Run,
    /** Under a hard cap: what was planned (the max tokens sent), and the model's own ceiling it may have lowered. */
    readonly plan: { plan: CallPlan; ceiling: number; choices: number } | undefined,
    private readonly headers: HeaderCapture | undefined,
  ) {}

  /** Watches a stream's text against the budget (made for streams only). */
  get watch(): StreamWatch {
    return (this.streamWatch ??= new StreamWatch(this.ticket.budget, this.settings.catalog, this.pricing(), () => this.ticket.plan?.reservedNano ?? 0));
  }

  get target(): CallTarget {
    return this.route.target;
  }

  /** The max tokens to send, when a hard cap planned them. */
  get maxTokens(): number | undefined {
    return this.plan?.plan.maxTokens;
  }

  get ended(): boolean {
    return this.ticket.ended;
  }

  /** The options to send the request with; from here on the call may be billed, so it never ends at $0 by an error. */
  sendOptions(): CallOptions {
    // A caller that gave up before the call left (while its tokens were counted or its hold was placed)
    // never sends it: the SDK refuses an aborted signal before any request. Left unsent, the call is
    // released by `fail`, not charged its whole hold as if it had been cut short on the wire.
    if (!this.route.options.signal?.aborted) this.ticket.markSent();
    this.sentAt = new Date();
    let options = this.route.options;
    const signal = this.ticket.signalFor(options.signal);
    if (signal !== options.signal) options = { ...options, signal };
    return this.headers ? this.headers.tag(options) : options;
  }

  /** The signals that can cut the call short: the caller's, and its budget's where others share it. */
  signals(): AbortSignal[] {
    const caller = this.route.options.signal;
    const own = this.ticket.budget.shared ? this.ticket.budget.signal : undefined;
    return [caller, own].filter((signal): signal is AbortSignal => signal !== undefined);
  }

  /**
   * Ends the call with its answer: priced, charged, reported to `onCost`. Throws `BudgetExceededError` once
   * the cost takes a limit over (after it was counted). An answer that can't be priced (corrupt usage, a
   * model that answered with no known price) is charged a conservative estimate, then its error is thrown.
   */
  async finish(received: Received, answer: () => string): Promise<PricedCall> {
    const outcome = this.outcome(received);
    let priced: PricedCall;
    try {
      priced = await priceCall(this.settings.catalog, outcome);
    } catch (error) {
      const reason: EstimateReason = error instanceof UnpriceableUsage ? "invalid-usage" : UnknownModelPriceError.isInstance(error) ? "unknown-price" : "failed";
      // Charging it may cross a limit: later calls are refused then, and this call still says why it failed.
      const charged = await this.chargeConservatively(received, reason).catch(keepUnlessBudgetStop(this));
      if (error instanceof UnpriceableUsage) {
        const { model, provider, totalUsd } = charged.cost;
        throw new InvalidUsageError({ model, provider, problems: error.problems, chargedUsd: totalUsd });
      }
      throw error;
    }
    const missing = priced.cost.missingRates;
    if (missing && this.settings.missingRates !== "error") warnMissingRates(priced.cost.model, missing);
    this.addClamp(priced);
    if (!missing || this.settings.missingRates !== "error") {
      await this.settle(priced, answer);
      return priced;
    }
    // Paid for already: charged as estimated, then refused as the user asked.
    await this.settle(priced, answer).catch(keepUnlessBudgetStop(this));
    throw new UnknownModelPriceError(priced.cost.model, priced.cost.provider, { entry: this.settings.entry, missingRates: missing });
  }

  /**
   * Ends a call that failed, and says what to throw: the budget's error when the budget cut it (a sibling
   * crossed the limit), a `ProviderResponseError` for an answer that isn't one, else the error itself. A
   * call the provider billed nothing for is released; any other that was sent is charged conservatively.
   */
  async fail(error: unknown, received: Received = {}): Promise<unknown> {
    const stopped = this.ticket.budget.stopError;
    const byBudget = !!stopped && (error === stopped || isAbortError(error));
    // The call that crossed throws the budget's stop itself; a sibling it cut short, a copy of its own.
    const thrown = byBudget
      ? error === stopped
        ? stopped
        : ownCopy(stopped)
      : isMalformedAnswer(error)
        ? new ProviderResponseError({ model: this.target.modelName, provider: this.target.provider, what: "sent something that is not an answer", cause: error })
        : error;
    if (this.ticket.ended) return thrown;
    if (!this.ticket.sent || (!byBudget && billedNothing(error))) {
      await this.ticket.release();
      return thrown;
    }
    try {
      await this.chargeConservatively(received, byBudget || isAbortError(error) ? "cut-short" : "failed");
    } catch (chargeError) {
      // Charging it crossed a limit: later calls are refused; this call still reports why it failed.
      if (!BudgetExceededError.isInstance(chargeError)) throw chargeError;
    }
    linkErrorRecord(thrown, this.ticket.record);
    return thrown;
  }

  /**
   * Ends a call that stopped before its answer was priced (the consumer stopped reading, an abort). A stream
   * whose whole usage had arrived (OpenAI's comes once, last) is priced from it; any other is charged
   * conservatively. Never throws.
   */
  async cutShort(received: Received): Promise<void> {
    if (this.ticket.ended) return;
    if (!this.ticket.sent) return this.ticket.release();
    if (reportsUsage(received.usage) && usageContract(this.target.provider).family === "openai") {
      const settled = await this.finish(received, () => (received.reply ? contentText(received.reply.content) : "")).then(
        () => true,
        () => this.ticket.ended,
      );
      if (settled) return;
    }
    await this.chargeConservatively(received, "cut-short").catch(() => {});
  }

  /**
   * Settles an estimate of what a stream received once it would take the budget over its limit, and
   * throws the budget's stop; a budget that ends gracefully returns true instead: end the stream there.
   */
  async stopAt(partial: PricedCall, answer: () => string): Promise<true> {
    this.addClamp(partial);
    this.stoppedAt = partial;
    await this.settle(partial, answer);
    if (this.ticket.budget.current.endGracefully) return true;
    throw this.ticket.budget.stopError ?? new Error("langchain-metered: a stream stopped at its budget did not cross it");
  }

  /** What a stream stopped at its budget was charged. */
  settled(): PricedCall {
    if (!this.stoppedAt) throw new Error("langchain-metered: the call ended without a priced answer");
    return this.stoppedAt;
  }

  private stoppedAt: PricedCall | undefined;

  close(): void {
    this.headers?.close();
  }

  private async chargeConservatively(received: Received, reason: EstimateReason): Promise<PricedCall> {
    const { catalog } = this.settings;
    const { budget } = this.ticket;
    const held = budget.hardCap ? (this.ticket.plan?.reservedNano ?? 0) : 0;
    const unspent = budget.ledger.unspentNano;
    const charged = await conservativeCharge(catalog, this.outcome(received), this.pricing(), reason, held, Number.isFinite(unspent) ? unspent : 0);
    this.addClamp(charged);
    await this.settle(charged, () => (received.reply ? contentText(received.reply.content) : ""));
    return charged;
  }

  private async settle(priced: PricedCall, answer: () => string): Promise<void> {
    try {
      await this.ticket.settle(priced, () => ({ input: this.messages.map((m) => contentText(m.content)).join("\n"), output: answer() }));
    } finally {
      this.report(this.ticket.record);
    }
  }

  private report(record: CostRecord | undefined): void {
    if (record) trackRecord(record);
    const { onCost } = this.settings;
    if (!onCost || !record) return;
    try {
      onCost(record);
    } catch (error) {
      // The call was paid for: a failing observer must not lose its answer.
      if (!onCostFailed) console.warn("langchain-metered: onCost threw; the call's answer is kept.", error);
      onCostFailed = true;
    }
  }

  private addClamp(priced: PricedCall): void {
    const plan = this.plan;
    if (plan?.plan.decision === "clamped") priced.cost.clamp = { requestedMaxTokens: plan.ceiling, sentMaxTokens: plan.plan.maxTokens };
  }

  private pricing(): { model: string; provider: string | undefined; messages: BaseMessage[]; tools: unknown } {
    return { model: this.target.modelName, provider: this.target.provider, messages: this.messages, tools: this.route.options.tools };
  }

  private outcome(received: Received): CallOutcome {
    const { target, downgradedFrom, options } = this.route;
    const maxOutputTokens = this.plan ? this.plan.plan.maxTokens * this.plan.choices : undefined;
    // One fixed shape, built once per call: this runs on every call's hot path.
    return {
      messages: this.messages,
      reply: received.reply,
      usage: received.usage,
      rawUsage: received.rawUsage,
      model: received.model ?? servedModelOf(received.reply) ?? target.modelName,
      provider: target.provider,
      tools: options.tools,
      reportedUsd: this.headers ? reportedCostOf(undefined, this.headers.headers) : undefined,
      costSource: this.settings.costSource,
      entry: this.settings.entry,
      downgradedFrom,
      maxOutputTokens,
      at: received.at ?? respondedAt(received.reply) ?? this.sentAt,
    };
  }
}
