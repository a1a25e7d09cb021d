import type { BaseMessage } from "@langchain/core/messages";
import type { PriceCatalog, PriceSource } from "../pricing/catalog.js";
import { type NanoUsd, nanoToUsd } from "../pricing/money.js";
import type { CompiledPrice } from "../pricing/model-price.js";
import type { PricedCall } from "../pricing/price-call.js";
import { contentText } from "../usage/estimate.js";
import { ZERO_USAGE } from "../usage/usage.js";
import { type BudgetDecision, type BudgetView, type CostRecord, costRecord } from "./cost-record.js";
import { BudgetExceededError, BudgetStoreUnavailableError, type BudgetStop } from "./errors.js";
import { type CallPlan, type PlanInput, planCall } from "./hard-cap.js";
import { Ledger } from "./ledger.js";
import type { Rates } from "./worst-case.js";
import { InMemoryBudgetStore } from "./memory-store.js";
import { type MeterSink, SafeMeter } from "./meter-sink.js";
import { type Quota, type ResolvedQuota, resolveQuotas } from "./quotas.js";
import type { BudgetStore, LimitState } from "./store.js";

/** What to do when the store can't answer: refuse the call (default), or meter locally and go on. */
export type StoreErrorPolicy = "deny" | "allow";

/** @internal How a budget spends: its run limit, hard cap, quotas and where they are kept. */
export interface SpendingOptions {
  limitNano: NanoUsd | undefined;
  hardCap: boolean;
  quotas: readonly Quota[];
  store: BudgetStore;
  meter: MeterSink | undefined;
  onStoreError: StoreErrorPolicy;
  scope: string;
  /** How long a hard cap's hold lives in the store if its worker never settles it. */
  reservationTtlMs: number;
}

/** @internal A call as a budget tracks it, from admission to settlement. */
export interface BudgetedCall {
  /** Unique per call: the store settles each call once by it. */
  callId: string;
  runId: string | undefined;
  parentRunId: string | undefined;
  messages: readonly BaseMessage[];
  model: string | undefined;
  provider: string | undefined;
  tools: unknown;
  /** The run's metadata, which fills the quotas' keys. */
  metadata: Record<string, unknown> | undefined;
  /** A `MeteredChatModel` call: the model itself reports to the budget, the callbacks stand aside. */
  metered: boolean;
  /** The model's own prices (a metered model's `prices` option), used before the budget's. */
  catalog?: PriceCatalog | undefined;
  /** Text received so far on a stream, and its UTF-8 size (an upper bound on its token count). */
  streamed: string;
  streamedBytes: number;
  /** Counted once a stream comes near the limit: the input's size and tokens, and the output tokens so far. */
  inputBytes?: number;
  /** The dearest rates the call can meet (`null`: its price is unknown), for the cheap bound on a stream. */
  bound?: Rates | null;
  inputTokens?: number;
  outputTokens?: number;
  countedChars?: number;
  /** The quota counters this call is charged to, fixed at admission (its window). */
  limits?: ResolvedQuota[];
  /** Under a hard cap: what was planned and reserved before the call was sent. */
  plan?: CallPlan | undefined;
  /** Settled or released: nothing more is counted for it. */
  done?: boolean;
}

/** Quotas kept while the shared store is down under `onStoreError: "allow"`: this process's own view. */
const localFallback = new InMemoryBudgetStore();
/** Stores that failed and have not answered since: warned about once per outage, not once per run. */
const storesDown = new WeakSet<BudgetStore>();
/** Quotas without a store of their own share this one, so they hold across runs of the process. */
export const defaultStore = new InMemoryBudgetStore();

/** @internal What a metered model brings to the per-run budget it joins. */
export interface AdoptedSettings {
  limitNano: NanoUsd;
  hardCap?: boolean | undefined;
  quotas?: readonly Quota[] | undefined;
  store?: BudgetStore | undefined;
  meter?: MeterSink | undefined;
  onStoreError?: StoreErrorPolicy | undefined;
  reservationTtlMs?: number | undefined;
}

/**
 * @internal A budget's bookkeeping, apart from LangChain: the run's ledger, the quotas in their store, the
 * metering log, and the decisions (admit, reserve, settle, release) with the errors they stop calls with.
 */
export class Spending {
  readonly ledger: Ledger;
  readonly records: CostRecord[] = [];
  private readonly controller = new AbortController();
  private meter: SafeMeter | undefined;
  /** The quota whose crossing stopped this budget, so later refusals name it rather than the run. */
  private stoppedBy: LimitState | undefined;

  private policyAdopted = false;
  /** Calls under a hard cap waiting for a sibling's hold to end. */
  private waiting: Array<() => void> = [];

  constructor(private readonly options: SpendingOptions) {
    this.ledger = new Ledger(options.limitNano);
    this.meter = options.meter ? new SafeMeter(options.meter) : undefined;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get hardCap(): boolean {
    return this.options.hardCap;
  }

  set hardCap(on: boolean) {
    this.options.hardCap = on;
  }

  /**
   * The per-run budget takes the settings of each metered model that joins the run: the tighter limit, a
   * hard cap if any asks for one, the union of their quotas, and a store, log and policy where it had none.
   */
  adopt(settings: AdoptedSettings): void {
    this.ledger.tighten(settings.limitNano);
    if (settings.hardCap) this.options.hardCap = true;
    const known = new Set(this.options.quotas.map(quotaId));
    const added = (settings.quotas ?? []).filter((quota) => !known.has(quotaId(quota)));
    if (added.length) this.options.quotas = [...this.options.quotas, ...added];
    if (settings.store && this.options.store === defaultStore) this.options.store = settings.store;
    if (settings.meter && !this.meter) this.meter = new SafeMeter(settings.meter);
    // Fail closed wins: the first model sets the policy, and a later "allow" never loosens a "deny".
    if (settings.onStoreError && (!this.policyAdopted || settings.onStoreError === "deny")) {
      this.options.onStoreError = settings.onStoreError;
    }
    this.policyAdopted ||= settings.onStoreError !== undefined;
    if (settings.reservationTtlMs) this.options.reservationTtlMs = settings.reservationTtlMs;
  }

  /** How many metering entries the sink failed to take. */
  get meterDropped(): number {
    return this.meter?.dropped ?? 0;
  }

  /** Whether the budget has anything to enforce (a run limit or quotas). */
  get enforcing(): boolean {
    return this.ledger.limitNano !== undefined || this.options.quotas.length > 0;
  }

  /** Refuses a call, before it is sent, when the run or any quota is spent; fixes its quota counters. */
  async admit(call: BudgetedCall): Promise<void> {
    if (this.signal.aborted || this.ledger.exhausted) throw this.stop("refused", this.signal.aborted ? this.stoppedBy : undefined);
    if (this.options.quotas.length === 0) return;
    // A store may answer `now()` from a cached clock: that says nothing about whether it is back.
    const now = await this.useStore((store) => store.now(), { recovers: false });
    call.limits = resolveQuotas(this.options.quotas, call.metadata, now);
    // A metered call's reservation checks them; any other model is never reserved for, so check it here.
    if (this.options.hardCap && call.metered) return;
    const { refused } = await this.useStore((store) => store.check(call.limits ?? []));
    if (refused) throw this.stop("refused", refused);
  }

  /**
   * Under a hard cap, plans the call against what the run and every quota can still pay for, and holds its
   * worst case in all of them; throws the refusal when even a short answer doesn't fit.
   */
  async reserve(
    call: BudgetedCall,
    price: CompiledPrice,
    priceSource: PriceSource,
    input: Omit<PlanInput, "price" | "availableNano">,
  ): Promise<CallPlan | undefined> {
    if (!this.options.hardCap || !this.enforcing) return undefined;
    const limits = call.limits ?? [];
    let plan: CallPlan;
    for (;;) {
      const states = limits.length ? (await this.useStore((store) => store.check(limits))).states : [];
      // No await between reading the run's room and holding it: concurrent calls see each other's holds.
      const available = Math.min(this.ledger.availableNano, ...states.map(room));
      plan = planCall({ price, ...input, availableNano: available });
      if (plan.decision !== "refused" && this.ledger.reserve(plan.reservedNano)) break;
      // Siblings' holds are worst cases that usually settle far lower: wait for one to end before refusing,
      // so parallel calls queue for the room instead of starving while most of the budget is unspent.
      if (this.ledger.reservedNano > 0 && !this.signal.aborted) {
        await this.holdsChange();
        continue;
      }
      const tightest = states.find((state) => room(state) === available && available < this.ledger.availableNano);
      return this.refuse(call, priceSource, tightest);
    }
    if (limits.length) {
      const ttl = this.options.reservationTtlMs;
      let refused: LimitState | undefined;
      try {
        ({ refused } = await this.useStore((store) => store.reserve(call.callId, limits, plan.reservedNano, ttl)));
      } catch (error) {
        this.ledger.release(plan.reservedNano); // the store failed: the call is not sent, the run gets its room back
        this.holdsChanged();
        throw error;
      }
      if (refused) {
        this.ledger.release(plan.reservedNano);
        this.holdsChanged();
        return this.refuse(call, priceSource, refused);
      }
    }
    call.plan = plan;
    return plan;
  }

  /** Records a priced call in the run and its quotas; throws `BudgetExceededError` once any limit is crossed. */
  async settle(call: BudgetedCall, priced: PricedCall, answer = ""): Promise<CostRecord> {
    call.done = true;
    const plan = call.plan;
    call.plan = undefined; // settled once, even if a stream is priced again when it closes
    const cost = priced.cost.nanoUsd;
    const runCrossed = plan ? this.ledger.settle(plan.reservedNano, cost) : this.ledger.charge(cost);
    if (plan) this.holdsChanged();
    const states = call.limits?.length ? await this.settleQuotas(call, cost) : [];
    const quotaCrossed = states.find((state) => state.spentNano > state.limitNano);
    const decision: BudgetDecision = runCrossed || quotaCrossed ? "exceeded" : (plan?.decision ?? "allowed");
    const record = this.record(call, priced, decision, plan, answer);
    if (runCrossed) throw this.stop("exceeded");
    if (quotaCrossed) throw this.stop("exceeded", quotaCrossed);
    return record;
  }

  /** Drops a call that failed without being paid for: its holds go back to the run and the quotas. */
  async release(call: BudgetedCall): Promise<void> {
    if (call.done) return;
    call.done = true;
    if (call.plan) {
      this.ledger.release(call.plan.reservedNano);
      this.holdsChanged();
    }
    const limits = call.limits;
    call.plan = undefined;
    if (limits?.length) await this.useStore((store) => store.release(call.callId, limits)).catch(() => {});
  }

  /** Resolves the next time a hold is settled or released (or the run is stopped). */
  private holdsChange(): Promise<void> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private holdsChanged(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const wake of waiting) wake();
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
      ...(plan ? { maxTokens: plan.maxTokens, reservedUsd: nanoToUsd(plan.reservedNano) } : {}),
    };
  }

  /** The error for a stop. Crossing the run's limit also aborts its calls in flight; a refusal leaves them be. */
  stop(stop: BudgetStop, quota?: LimitState): BudgetExceededError {
    const limit = this.ledger.limitNano;
    const error = quota
      ? new BudgetExceededError({
          limitUsd: nanoToUsd(quota.limitNano),
          spentUsd: nanoToUsd(quota.spentNano),
          scope: this.quotaScope(quota.key),
          stop,
          quota: true,
        })
      : new BudgetExceededError({
          limitUsd: limit === undefined ? Infinity : nanoToUsd(limit),
          spentUsd: nanoToUsd(this.ledger.spentNano),
          scope: this.options.scope,
          stop,
        });
    if (stop === "exceeded" && !this.signal.aborted) {
      this.stoppedBy = quota;
      this.controller.abort(error);
      this.holdsChanged(); // calls waiting for room wake up to be refused
    }
    return error;
  }

  private quotaScope(key: string): string {
    return key.replace(/:(day|week|month):[^:]+$|:total$/, "");
  }

  private async settleQuotas(call: BudgetedCall, cost: NanoUsd): Promise<LimitState[]> {
    const limits = call.limits ?? [];
    try {
      return await this.useStore((store) => store.settle(call.callId, limits, cost));
    } catch {
      // The call was sent and paid for: count it here rather than lose its answer. The next call meets
      // the same store error at admission, and is refused unless the policy allows.
      return localFallback.settle(call.callId, limits, cost);
    }
  }

  /** Runs a store operation under the failure policy: refuse (`deny`), or warn once and use local quotas. */
  private async useStore<T>(operation: (store: BudgetStore) => Promise<T>, { recovers = true } = {}): Promise<T> {
    const store = this.options.store;
    try {
      const result = await operation(store);
      if (recovers) storesDown.delete(store);
      return result;
    } catch (error) {
      if (this.options.onStoreError === "deny") throw new BudgetStoreUnavailableError(error);
      if (!storesDown.has(store)) console.warn("langchain-metered: the budget store is unavailable; metering quotas locally.", error);
      storesDown.add(store);
      return operation(localFallback);
    }
  }

  private refuse(call: BudgetedCall, priceSource: PriceSource, quota?: LimitState): never {
    const model = call.model ?? "unknown";
    const zero = { totalUsd: 0, nanoUsd: 0, details: {}, model, provider: call.provider, priceSource, estimated: false };
    this.record(call, { usage: { ...ZERO_USAGE }, cost: zero }, "refused", undefined);
    call.done = true;
    throw this.stop("refused", quota);
  }

  private record(
    call: BudgetedCall,
    priced: PricedCall,
    decision: BudgetDecision,
    plan: CallPlan | undefined,
    answer = "",
  ): CostRecord {
    const record = costRecord(priced, call, this.view(decision, plan));
    this.records.push(record);
    if (this.meter && decision !== "refused") {
      void this.meter.write({
        time: record.at.toISOString(),
        runId: record.runId,
        parentRunId: record.parentRunId,
        quotaKeys: call.limits?.map((limit) => limit.key) ?? [],
        provider: record.provider,
        model: record.model,
        usage: record.usage,
        costUsd: record.cost.totalUsd,
        costNanoUsd: record.cost.nanoUsd,
        priceSource: record.cost.priceSource,
        estimated: record.estimated,
        decision,
        ...(this.meter.sink.includeContent
          ? { content: { input: call.messages.map((m) => contentText(m.content)).join("\n"), output: answer || call.streamed } }
          : {}),
      });
    }
    return record;
  }
}

const quotaId = (quota: Quota) => `${quota.key}\u0000${quota.window}\u0000${quota.timeZone ?? "UTC"}`;

/** What a limit can still take. */
function room(state: LimitState): NanoUsd {
  return Math.max(0, state.limitNano - state.spentNano - state.reservedNano);
}
