import { type NanoUsd, nanoToUsd } from "../pricing/money.js";
import type { CallPlan } from "./plan.js";
import { BudgetCall, type CallInfo } from "./budget-call.js";
import type { BudgetDecision, BudgetView, CostRecord } from "./cost-record.js";
import { BudgetExceededError, BudgetStoreUnavailableError, type BudgetStopFields } from "./errors.js";
import { Ledger } from "./ledger.js";
import { SafeMeter } from "./meter-sink.js";
import { localFallback } from "./process-stores.js";
import { resolveQuotas, scopeOf } from "./quotas.js";
import type { BudgetSettings } from "./settings.js";
import type { BudgetStore, LimitState } from "./store.js";
import { storeGuard } from "./store-guard.js";
import { recordRefusal } from "./otel-metrics.js";
import { emitEvent } from "./alerts.js";

export type { CallInfo } from "./budget-call.js";

/**
 * @internal The budget core: one scope's spend against its limit and its quotas, and every decision made
 * for its calls. A call is admitted (`open`), may hold its worst case (hard cap), is sent, and ends exactly
 * once: settled with its cost, or released when it was not billed (see `BudgetCall`). Nothing here knows
 * LangChain; the callback handler, the middleware and the models are adapters over it.
 *
 * `shared`: several calls can be in flight at once (a run, an explicit handler), so crossing the limit
 * aborts the others through `signal`; a budget made for one standalone call needs no signal at all.
 */
export class Budget {
  readonly records: CostRecord[] = [];
  readonly ledger: Ledger;
  private meter: SafeMeter | undefined;
  private controller: AbortController | undefined;
  private stopped: BudgetExceededError | undefined;
  /** The quota whose crossing stopped this budget, so later refusals name it rather than the run. */
  private stoppedBy: (LimitState & { scope: string }) | undefined;
  /** Calls waiting for holds to end (a hard cap's queue for room); made when the first one waits. */
  private waiters: Set<() => void> | undefined;

  constructor(
    private settings: BudgetSettings,
    readonly shared = true,
  ) {
    this.ledger = new Ledger(settings.limitNano);
    this.meter = settings.meter ? new SafeMeter(settings.meter) : undefined;
  }

  get hardCap(): boolean {
    return this.settings.hardCap;
  }

  get scope(): string {
    return this.settings.scope;
  }

  /** Whether the budget has anything to enforce (a limit or quotas); one without only counts. */
  get enforcing(): boolean {
    return this.ledger.limitNano !== undefined || this.settings.quotas.length > 0;
  }

  /** Aborted, with the `BudgetExceededError` as its reason, once a limit is crossed. Made on first use. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.stopped) this.controller.abort(this.stopped);
    }
    return this.controller.signal;
  }

  /** The error that stopped the budget, once a limit was crossed. */
  get stopError(): BudgetExceededError | undefined {
    return this.stopped;
  }

  /** The quota whose crossing stopped the budget, if a quota did. */
  get stoppedByQuota(): (LimitState & { scope: string }) | undefined {
    return this.stoppedBy;
  }

  /** How many metering entries the sink failed to take. */
  get meterDropped(): number {
    return this.meter?.dropped ?? 0;
  }

  /** The share of its limit spent (0 without a limit; 1 for a limit of 0). */
  spentFraction(): number {
    const limit = this.ledger.limitNano;
    if (limit === undefined) return 0;
    return limit > 0 ? this.ledger.spentNano / limit : 1;
  }

  /** The budget's view, for a record and for tracing. */
  view(decision: BudgetDecision, plan?: CallPlan): BudgetView {
    const limit = this.ledger.limitNano;
    const spent = this.ledger.spentNano;
    return {
      decision,
      limitUsd: limit === undefined ? Infinity : nanoToUsd(limit),
      spentUsd: nanoToUsd(spent),
      remainingUsd: limit === undefined ? Infinity : nanoToUsd(Math.max(0, limit - spent)),
      ...(plan && plan.decision !== "refused" ? { maxTokens: plan.maxTokens, reservedUsd: nanoToUsd(plan.reservedNano) } : {}),
    };
  }

  /**
   * A run's budget takes the settings of each metered model that joins the run: the tighter limit, a hard
   * cap if any asks for one, the union of their quotas, and a store, log and policy where it had none.
   * Fail closed wins: a later "allow" never loosens a "deny".
   */
  adopt(other: BudgetSettings): void {
    if (other === this.settings) return;
    if (other.limitNano !== undefined) this.ledger.tighten(other.limitNano);
    const mine = this.settings;
    const known = new Set(mine.quotas.map(quotaId));
    const added = other.quotas.filter((quota) => !known.has(quotaId(quota)));
    this.settings = {
      ...mine,
      hardCap: mine.hardCap || other.hardCap,
      quotas: added.length ? [...mine.quotas, ...added] : mine.quotas,
      meter: mine.meter ?? other.meter,
      onStoreError: mine.onStoreError === "deny" || other.onStoreError === "deny" ? "deny" : "allow",
      reservationTtlMs: Math.min(mine.reservationTtlMs, other.reservationTtlMs),
      holdWaitMs: Math.min(mine.holdWaitMs, other.holdWaitMs),
      // A model's alerts join the run's: the first listener set wins (a run shares one budget).
      alerts: {
        onThreshold: mine.alerts.onThreshold ?? other.alerts.onThreshold,
        thresholds: mine.alerts.onThreshold ? mine.alerts.thresholds : other.alerts.thresholds,
        onEvent: mine.alerts.onEvent ?? other.alerts.onEvent,
      },
    };
    this.meter ??= other.meter ? new SafeMeter(other.meter) : undefined;
  }

  /**
   * Admits a call, or refuses it before anything is sent when the budget or any of its quotas is spent.
   * Synchronous when there are no quotas (the common case costs no promise); the quota counters a call is
   * charged to are fixed here (their window), by the store's clock.
   */
  open(info: CallInfo): BudgetCall | Promise<BudgetCall> {
    if (this.stopped || this.ledger.exhausted) throw this.refuse(info, undefined, this.stopped ? this.stoppedBy : undefined);
    if (this.settings.quotas.length === 0) return new BudgetCall(this, info, []);
    return this.openWithQuotas(info);
  }

  private async openWithQuotas(info: CallInfo): Promise<BudgetCall> {
    // A store may answer `now()` from a cached clock: that says nothing about whether it is back.
    const now = await this.useStore((store) => store.now(), false);
    const limits = await resolveQuotas(this.settings.quotas, info.metadata, now);
    // A call that will hold its worst case is checked by the hold itself.
    if (!(this.settings.hardCap && info.holds)) {
      const { refused } = await this.useStore((store) => store.check(limits));
      if (refused) throw this.refuse(info, { ...refused, scope: scopeOf(limits, refused.key) });
    }
    if (this.stopped) throw this.refuse(info, undefined, this.stoppedBy);
    return new BudgetCall(this, info, limits);
  }

  /**
   * @internal The error that refuses a call before it was sent, counted (metrics) and announced (`onEvent`) as
   * refused by `quota` (else by the run); the error names `stoppedBy` (by default `quota`).
   */
  refuse(
    info: CallInfo,
    quota?: LimitState & { scope: string },
    stoppedBy: (LimitState & { scope: string }) | undefined = quota,
    extra: Partial<BudgetStopFields> = {},
  ): BudgetExceededError {
    recordRefusal(info);
    const limit = this.ledger.limitNano;
    emitEvent(this.settings.alerts, {
      type: "refused",
      scope: quota?.scope ?? "run",
      model: info.model,
      costUsd: 0,
      spentUsd: nanoToUsd(this.ledger.spentNano),
      limitUsd: limit === undefined ? Infinity : nanoToUsd(limit),
    });
    return this.stop("refused", stoppedBy, extra);
  }

  /** @internal Claims a run threshold's alert once for this run (a run is its budget's window). */
  claimRunAlert(id: string): Promise<boolean> {
    const fired = (this.firedAlerts ??= new Set());
    if (fired.has(id)) return Promise.resolve(false);
    fired.add(id);
    return Promise.resolve(true);
  }

  /** Run thresholds already alerted; made on the first alert (most budgets have no alerts). */
  private firedAlerts: Set<string> | undefined;

  /** Whether `extraNano` more spend, beyond what is spent and held, would take the run over its limit. */
  wouldCross(extraNano: NanoUsd): boolean {
    return this.ledger.wouldCross(extraNano);
  }

  /** @internal The settings calls are held and settled under. */
  get current(): BudgetSettings {
    return this.settings;
  }

  /** @internal The metering sink, when there is one. */
  get meterSink(): SafeMeter | undefined {
    return this.meter;
  }

  /**
   * @internal The error for a stop. Crossing a limit also aborts the budget's calls in flight and wakes
   * calls waiting for room (to be refused); a refusal leaves the others be.
   */
  stop(stop: BudgetExceededError["stop"], quota?: LimitState & { scope: string }, extra: Partial<BudgetStopFields> = {}): BudgetExceededError {
    const limit = this.ledger.limitNano;
    const error = quota
      ? new BudgetExceededError({
          limitUsd: nanoToUsd(quota.limitNano),
          spentUsd: nanoToUsd(quota.spentNano),
          heldUsd: nanoToUsd(quota.reservedNano),
          scope: quota.scope,
          stop,
          quota: true,
          ...extra,
        })
      : new BudgetExceededError({
          limitUsd: limit === undefined ? Infinity : nanoToUsd(limit),
          spentUsd: nanoToUsd(this.ledger.spentNano),
          heldUsd: nanoToUsd(this.ledger.heldNano),
          scope: this.settings.scope,
          stop,
          ...extra,
        });
    if (stop === "exceeded" && !this.stopped) {
      this.stopped = error;
      this.stoppedBy = quota;
      this.controller?.abort(error);
      this.holdsChanged();
    }
    return error;
  }

  /**
   * @internal Runs a store operation through the store's circuit breaker, under the failure policy: refuse
   * (`deny`, `BudgetStoreUnavailableError`), or warn once per outage and use this process's own quotas.
   */
  async useStore<T>(operation: (store: BudgetStore) => Promise<T>, recovers = true): Promise<T> {
    const store = this.settings.store;
    try {
      // An operation that may answer without reaching the store (its clock) goes around the breaker: it
      // can't tell whether the store is back, and must not be refused while it is down.
      const result = await (recovers ? storeGuard(store).run(operation) : operation(store));
      if (recovers) storesDown.delete(store);
      return result;
    } catch (error) {
      if (error instanceof RangeError) throw error; // a caller's mistake (a bad amount), not an outage
      if (this.settings.onStoreError === "deny") throw new BudgetStoreUnavailableError(error);
      if (!storesDown.has(store)) console.warn("langchain-metered: the budget store is unavailable; metering quotas locally.", error);
      storesDown.add(store);
      return operation(localFallback());
    }
  }

  /** @internal Wakes the calls waiting for room: a hold ended (or the budget stopped). */
  holdsChanged(): void {
    if (this.waiters) for (const wake of [...this.waiters]) wake();
  }

  /**
   * @internal Resolves when a hold of this budget ends, after `ms` at most (holds in a shared store end
   * elsewhere, unannounced), or rejects with the caller's abort reason.
   */
  waitForHolds(ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        this.waiters?.delete(wake);
        signal?.removeEventListener("abort", onAbort);
        settle();
      };
      const wake = () => finish(resolve);
      const onAbort = () => finish(() => reject(signal?.reason));
      const timer = setTimeout(wake, ms);
      (this.waiters ??= new Set()).add(wake);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}

/** Stores that failed and have not answered since: warned about once per outage, not once per run. */
const storesDown = new WeakSet<BudgetStore>();

const quotaId = (quota: { key: string; window: string; timeZone?: string | undefined }) =>
  `${quota.key}\u0000${quota.window}\u0000${quota.timeZone ?? "UTC"}`;

