import type { PriceSource } from "../pricing/catalog.js";
import { type NanoUsd, nanoToUsd } from "../pricing/money.js";
import type { Cost } from "../pricing/price-usage.js";
import { type Usage, ZERO_USAGE } from "../usage/usage.js";
import type { Budget } from "./budget.js";
import { nextCallId } from "./call-id.js";
import { combineSignals } from "./combined-signal.js";
import { type BudgetDecision, type CostRecord, costRecord, linkErrorRecord } from "./cost-record.js";
import type { BudgetStopFields } from "./errors.js";
import type { MeterEntry } from "./meter-sink.js";
import type { CallPlan } from "./plan.js";
import { localFallback } from "./process-stores.js";
import { type ResolvedQuota, scopeOf } from "./quotas.js";
import type { LimitState } from "./store.js";

/** @internal What a budget knows of a call when it is admitted. */
export interface CallInfo {
  model: string;
  provider: string | undefined;
  runId?: string | undefined;
  parentRunId?: string | undefined;
  /** The run's metadata, which fills the quotas' keys. */
  metadata?: Record<string, unknown> | undefined;
  /** The call will hold its worst case before it is sent (a hard cap): its quotas are checked by the hold. */
  holds?: boolean;
}

/** @internal A priced call: its normalized usage and its cost. */
export interface PricedCall {
  usage: Usage;
  cost: Cost;
}

/** @internal The prompt and answer as text, for a metering sink that asks for content (read only then). */
export type ContentOf = () => { input: string; output: string };

/**
 * @internal One call's life in a budget: admitted, maybe holding its worst case, sent, and ended exactly
 * once: `settle` charges its cost, `release` drops it (only for a call that was not billed: never sent, or
 * answered with an error status). A second end is ignored, so every path that can see a call end (the
 * answer, an error, an abort, a dropped stream) may try to end it.
 */
export class BudgetCall {
  readonly id = nextCallId();
  /** Under a hard cap: what was planned and held before the call was sent. */
  plan: CallPlan | undefined;
  /** The call's record, once it was settled or refused. */
  record: CostRecord | undefined;
  private state: "open" | "sent" | "ended" = "open";
  private heldLine = false;
  private detach: (() => void) | undefined;

  constructor(
    readonly budget: Budget,
    readonly info: CallInfo,
    /** The quota counters this call is charged to, fixed at admission (their window). */
    readonly limits: readonly ResolvedQuota[],
  ) {}

  /** Settled, released or refused: nothing more is counted for it. */
  get ended(): boolean {
    return this.state === "ended";
  }

  /** The request left: from now on the call may have been billed, and is never ended at $0 by an error. */
  get sent(): boolean {
    return this.state !== "open";
  }

  markSent(): void {
    if (this.state === "open") this.state = "sent";
  }

  /**
   * The signal to send the request with: the caller's, plus, in a budget several calls share, the budget's
   * own, so a sibling crossing the limit aborts this call. Combined by hand, with the listeners removed when
   * the call ends: `AbortSignal.any` composites stay reachable from a long-lived caller signal on Node 20.
   */
  signalFor(caller: AbortSignal | undefined): AbortSignal | undefined {
    if (!this.budget.shared) return caller;
    const own = this.budget.signal;
    if (!caller || caller === own) return own;
    const combined = combineSignals(caller, own);
    this.detach = combined.dispose;
    return combined.signal;
  }

  /**
   * Under a hard cap: plans the call against what the run and every quota can still pay for (`planFor`
   * turns the room into a plan) and holds its worst case in all of them. A call that doesn't fit beside the
   * holds of calls in flight waits for them to end (they usually settle far below their worst case), for at
   * most `holdWaitMs` and never past the caller's `signal`; then it is refused, naming what was held.
   */
  async hold(planFor: (availableNano: NanoUsd) => CallPlan, priceSource: PriceSource, signal?: AbortSignal): Promise<CallPlan> {
    const { budget } = this;
    const { ledger } = budget;
    const started = Date.now();
    let pause = 5;
    for (;;) {
      if (budget.stopError) return this.refuse(priceSource);
      const states = this.limits.length ? (await budget.useStore((store) => store.check(this.limits))).states : [];
      const available = Math.min(ledger.availableNano, ...states.map(room));
      const plan = planFor(available);
      let blocking = states;
      // No await between reading the run's room and holding it: concurrent calls see each other's holds.
      if (plan.decision !== "refused" && ledger.hold(plan.reservedNano)) {
        const refusedBy = this.limits.length ? await this.holdInStore(plan) : undefined;
        if (!refusedBy) return (this.plan = plan);
        ledger.end(plan.reservedNano, 0);
        budget.holdsChanged();
        blocking = refusedBy;
      }
      const waitedMs = Date.now() - started;
      const fitsOnceHoldsEnd = planFor(Math.min(ledger.unspentNano, ...blocking.map(unspent))).decision !== "refused";
      const held = ledger.heldNano > 0 || blocking.some((state) => state.reservedNano > 0);
      const limit = budget.current.holdWaitMs;
      if (!fitsOnceHoldsEnd || !held || waitedMs >= limit || budget.stopError) {
        return this.refuse(priceSource, tightestQuota(blocking, ledger.availableNano), {
          ...(held ? { neededUsd: nanoToUsd(planFor(Number.POSITIVE_INFINITY).reservedNano), waitedMs } : {}),
        });
      }
      await budget.waitForHolds(Math.min(pause, limit - waitedMs), signal);
      pause = Math.min(pause * 2, 200);
    }
  }

  /**
   * Charges the call's cost in the run and its quotas and keeps its record; throws `BudgetExceededError`
   * (after recording it) when the cost took a limit over. The metering line is written before the store
   * is told, so a crash in between leaves the log ahead of the store, never behind. Ends the call once: a
   * second end returns the first record.
   */
  async settle(priced: PricedCall, content?: ContentOf): Promise<CostRecord> {
    if (this.state === "ended" && this.record) return this.record;
    this.end();
    const { budget, plan } = this;
    const cost = priced.cost.nanoUsd;
    const runCrossed = budget.ledger.end(plan?.reservedNano ?? 0, cost);
    if (plan) budget.holdsChanged();
    const record = costRecord(this.id, priced, this.info, budget.view(runCrossed ? "exceeded" : (plan?.decision ?? "allowed"), plan));
    this.record = record;
    budget.records.push(record);
    await this.writeLine(record.budget?.decision ?? "allowed", priced.usage, priced.cost, content);
    let quotaCrossed: (LimitState & { scope: string }) | undefined;
    if (this.limits.length) {
      const crossed = (await this.settleQuotas(cost)).find((state) => state.spentNano > state.limitNano);
      if (crossed) {
        quotaCrossed = { ...crossed, scope: scopeOf(this.limits, crossed.key) };
        if (record.budget) record.budget.decision = "exceeded";
      }
    }
    if (runCrossed || quotaCrossed) {
      const stop = budget.stop("exceeded", runCrossed ? undefined : quotaCrossed);
      linkErrorRecord(stop, record);
      // A graceful budget keeps the crossing call's answer (it was paid for); its next call is refused.
      if (!budget.current.endGracefully) throw stop;
    }
    return record;
  }

  /**
   * Ends a call that was not billed (never sent, or answered with an error status): its holds go back to
   * the run and the quotas. Never use it for a call cut short after it was sent: settle what it received.
   */
  async release(): Promise<void> {
    if (this.state === "ended") return;
    this.end();
    const { budget, plan } = this;
    if (!plan) return;
    budget.ledger.end(plan.reservedNano, 0);
    budget.holdsChanged();
    if (!this.limits.length) return;
    // A failed release is not lost money: the hold expires, and is charged then, at its worst case.
    await budget.useStore((store) => store.release(this.id, this.limits)).catch(() => {});
    if (this.heldLine) await this.writeLine("released", { ...ZERO_USAGE }, zeroCost(this.info, "override"));
  }

  private end(): void {
    this.state = "ended";
    this.detach?.();
    this.detach = undefined;
  }

  /** Holds the plan's worst case in every quota (the log hears of it first); the states that refused it, if any. */
  private async holdInStore(plan: CallPlan): Promise<LimitState[] | undefined> {
    const { budget } = this;
    try {
      await this.writeLine("held", { ...ZERO_USAGE }, { ...zeroCost(this.info, "override"), nanoUsd: plan.reservedNano, totalUsd: nanoToUsd(plan.reservedNano) });
      this.heldLine = !!budget.meterSink;
      const ttl = budget.current.reservationTtlMs;
      const reply = await budget.useStore((store) => store.reserve(this.id, this.limits, plan.reservedNano, ttl));
      return reply.refused ? reply.states : undefined;
    } catch (error) {
      // The store failed: the call is not sent, the run gets its room back. A reserve that timed out may
      // still land (a frozen Redis, a client's offline queue): a release sent after it, on the same
      // connection, keeps it from becoming a hold that expires and is charged for a call never sent.
      budget.ledger.end(plan.reservedNano, 0);
      budget.holdsChanged();
      this.end();
      if (budget.current.onStoreError === "deny") void budget.current.store.release(this.id, this.limits).catch(() => {});
      throw error;
    }
  }

  private async settleQuotas(cost: NanoUsd): Promise<LimitState[]> {
    try {
      return await this.budget.useStore((store) => store.settle(this.id, this.limits, cost));
    } catch {
      // The call was sent and paid for: count it in this process's view rather than lose its answer. The
      // next call meets the same store error at admission, and is refused unless the policy allows.
      return localFallback().settle(this.id, this.limits, cost);
    }
  }

  /** Refuses the call before it is sent: a record with no cost, and the error that says what kept it out. */
  private refuse(priceSource: PriceSource, quota?: LimitState, extra: Partial<BudgetStopFields> = {}): never {
    this.end();
    const { budget } = this;
    const record = costRecord(this.id, { usage: { ...ZERO_USAGE }, cost: zeroCost(this.info, priceSource) }, this.info, budget.view("refused"));
    this.record = record;
    budget.records.push(record);
    if (this.heldLine) void this.writeLine("refused", record.usage, record.cost);
    const stoppedBy = quota ? { ...quota, scope: scopeOf(this.limits, quota.key) } : budget.stoppedByQuota;
    throw budget.stop("refused", stoppedBy, extra);
  }

  private async writeLine(decision: MeterEntry["decision"], usage: Usage, cost: Cost, content?: ContentOf): Promise<void> {
    const meter = this.budget.meterSink;
    if (!meter) return;
    const text = meter.sink.includeContent && content ? { content: content() } : {};
    await meter.write({
      callId: this.id,
      time: new Date().toISOString(),
      runId: this.info.runId,
      parentRunId: this.info.parentRunId,
      quotaKeys: this.limits.map((limit) => limit.key),
      provider: cost.provider,
      model: cost.model,
      usage,
      costUsd: cost.totalUsd,
      costNanoUsd: cost.nanoUsd,
      priceSource: cost.priceSource,
      estimated: cost.estimated,
      decision,
      ...text,
    });
  }
}

function zeroCost(info: CallInfo, priceSource: PriceSource): Cost {
  return { totalUsd: 0, nanoUsd: 0, details: {}, model: info.model, provider: info.provider, priceSource, estimated: false };
}

/** What a limit can still take. */
function room(state: LimitState): NanoUsd {
  return Math.max(0, state.limitNano - state.spentNano - state.reservedNano);
}

/** The quota that kept a call out, when one is tighter than the run's own room. */
function tightestQuota(states: readonly LimitState[], runRoom: NanoUsd): LimitState | undefined {
  let tightest: LimitState | undefined;
  for (const state of states) if (room(state) < runRoom && (!tightest || room(state) < room(tightest))) tightest = state;
  return tightest;
}

/** What a limit could take once every hold has ended. */
function unspent(state: LimitState): NanoUsd {
  return Math.max(0, state.limitNano - state.spentNano);
}

export type { BudgetDecision };
