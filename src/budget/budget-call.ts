import type { PriceSource } from "../pricing/catalog.js";
import { type NanoUsd, nanoToUsd } from "../pricing/money.js";
import type { Cost } from "../pricing/price-usage.js";
import { type Usage, ZERO_USAGE } from "../usage/usage.js";
import type { Budget } from "./budget.js";
import { nextCallId } from "./call-id.js";
import { CallLog, type ContentOf, zeroCost } from "./call-log.js";
import { combineSignals } from "./combined-signal.js";
import { type BudgetDecision, type CostRecord, costRecord, linkErrorRecord } from "./cost-record.js";
import type { BudgetStopFields } from "./errors.js";
import type { CallPlan } from "./plan.js";
import { QuotaSide } from "./quota-side.js";
import { type ResolvedQuota, scopeOf } from "./quotas.js";
import type { LimitState } from "./store.js";
import { recordCallMetrics } from "./otel-metrics.js";
import { claimIn, crossThresholds, emitEvent } from "./alerts.js";

export type { ContentOf } from "./call-log.js";

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
  private detach: (() => void) | undefined;
  private readonly log: CallLog;
  private readonly quotas: QuotaSide;

  constructor(
    readonly budget: Budget,
    readonly info: CallInfo,
    /** The quota counters this call is charged to, fixed at admission (their window). */
    readonly limits: readonly ResolvedQuota[],
  ) {
    this.log = new CallLog(budget.meterSink, this);
    this.quotas = new QuotaSide(budget, this.id, limits);
  }

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
        // The store refused a plan made on room that shrank in between (another worker's call settled). With
        // nothing held to wait for, plan again at once for what the store says is left, rather than refuse a
        // call the quota can still pay a clamped answer for (bounded, like any wait, by holdWaitMs).
        const heldNow = ledger.heldNano > 0 || refusedBy.some((state) => state.reservedNano > 0);
        const fitsNow = planFor(Math.min(ledger.availableNano, ...refusedBy.map(room))).decision !== "refused";
        if (!heldNow && fitsNow && Date.now() - started < budget.current.holdWaitMs && !budget.stopError) continue;
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
    if (this.log.writes) await this.log.ended(record.budget?.decision ?? "allowed", priced.usage, priced.cost, content);
    let quotaCrossed: (LimitState & { scope: string }) | undefined;
    let states: LimitState[] = [];
    if (this.limits.length) {
      states = await this.quotas.settle(cost);
      const crossed = states.find((state) => state.spentNano > state.limitNano);
      if (crossed) {
        quotaCrossed = { ...crossed, scope: scopeOf(this.limits, crossed.key) };
        if (record.budget) record.budget.decision = "exceeded";
      }
    }
    recordCallMetrics(this.info, record);
    // Most budgets have no alerts: no promise for them on every call's path.
    const { alerts } = budget.current;
    if (alerts.onThreshold || alerts.onEvent) await this.announce(record, cost, states, quotaCrossed?.scope);
    if (runCrossed || quotaCrossed) {
      const stop = budget.stop("exceeded", runCrossed ? undefined : quotaCrossed);
      linkErrorRecord(stop, record);
      // A graceful budget keeps the crossing call's answer (it was paid for); its next call is refused.
      if (!budget.current.endGracefully) throw stop;
    }
    return record;
  }

  /** The budget's alerts for a settled call, when it has listeners: thresholds its cost reached, and what was decided. */
  private async announce(record: CostRecord, cost: NanoUsd, states: readonly LimitState[], quotaScope: string | undefined): Promise<void> {
    const { budget } = this;
    const alerts = budget.current.alerts;
    const { ledger } = budget;
    if (ledger.limitNano !== undefined) {
      const spentNano = ledger.spentNano;
      await crossThresholds(alerts, { scope: "run", limitNano: ledger.limitNano, beforeNano: spentNano - cost, spentNano }, (id) => budget.claimRunAlert(id));
    }
    for (const state of states) {
      const limit = this.limits.find((candidate) => candidate.key === state.key);
      if (!limit) continue;
      const target = { scope: limit.scope, window: state.key.slice(limit.scope.length + 1), limitNano: state.limitNano, beforeNano: state.spentNano - cost, spentNano: state.spentNano };
      await crossThresholds(alerts, target, claimIn(budget.current.store, limit.expiresAt));
    }
    const view = record.budget;
    const base = { model: record.model, costUsd: record.cost.totalUsd, spentUsd: view?.spentUsd ?? 0, limitUsd: view?.limitUsd ?? Infinity };
    if (view?.decision === "clamped") emitEvent(alerts, { type: "clamped", scope: "run", ...base, ...(view.maxTokens !== undefined ? { maxTokens: view.maxTokens } : {}) });
    if (record.cost.downgradedFrom) emitEvent(alerts, { type: "downgraded", scope: "run", ...base, downgradedFrom: record.cost.downgradedFrom });
    if (view?.decision === "exceeded") emitEvent(alerts, { type: "exceeded", scope: quotaScope ?? "run", ...base });
  }

  /**
   * Ends a call that was not billed (never sent, or answered with an error status): its holds go back to
   * the run and the quotas. Never use it for a call cut short after it was sent: settle what it received.
   */
  async release(): Promise<void> {
    if (this.state === "ended") return;
    this.end();
    const { budget, plan } = this;
    // A call whose hold the store refused may have written "held" while it waited: end its log on $0.
    if (!plan) return this.log.released();
    budget.ledger.end(plan.reservedNano, 0);
    budget.holdsChanged();
    if (this.limits.length) await this.quotas.release(() => this.log.released());
  }

  private end(): void {
    this.state = "ended";
    this.detach?.();
    this.detach = undefined;
  }

  /** Holds the plan's worst case in every quota (the log hears of it first); the states that refused it, if any. */
  private async holdInStore(plan: CallPlan): Promise<LimitState[] | undefined> {
    try {
      await this.log.hold(plan.reservedNano);
      return await this.quotas.hold(plan.reservedNano);
    } catch (error) {
      // The store failed: the call is not sent, and the run gets its room back.
      this.budget.ledger.end(plan.reservedNano, 0);
      this.budget.holdsChanged();
      this.end();
      await this.quotas.abandonHold(() => this.log.released());
      throw error;
    }
  }

  /** Refuses the call before it is sent: a record with no cost, and the error that says what kept it out. */
  private refuse(priceSource: PriceSource, quota?: LimitState, extra: Partial<BudgetStopFields> = {}): never {
    this.end();
    const { budget } = this;
    const record = costRecord(this.id, { usage: { ...ZERO_USAGE }, cost: zeroCost(this.info, priceSource) }, this.info, budget.view("refused"));
    this.record = record;
    budget.records.push(record);
    if (this.log.wroteHold) void this.log.ended("refused", record.usage, record.cost);
    const refusedBy = quota ? { ...quota, scope: scopeOf(this.limits, quota.key) } : undefined;
    throw budget.refuse(this.info, refusedBy, refusedBy ?? budget.stoppedByQuota, extra);
  }

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
