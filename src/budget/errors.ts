import { stampRetryable } from "@langchain/core/errors";
import { hasMarker, MeteredError } from "../errors.js";

const budgetMarker = Symbol.for("langchain-metered.BudgetExceededError");
const storeMarker = Symbol.for("langchain-metered.BudgetStoreUnavailableError");
const quotaKeyMarker = Symbol.for("langchain-metered.QuotaKeyError");

/** How a budget stopped a call: refused before it was sent, or its cost crossed the limit. */
export type BudgetStop = "refused" | "exceeded";

/** @internal A USD amount as messages show it: cents above $1, up to nano-dollars below. */
export const usd = (value: number) => `$${value.toFixed(value >= 1 ? 2 : 9).replace(/(\.\d\d\d*?)0+$/, "$1")}`;

/** The figures of a {@link BudgetExceededError}. */
export interface BudgetStopFields {
  limitUsd: number;
  spentUsd: number;
  /** Held by calls in flight when the call was refused (hard cap); 0 otherwise. */
  heldUsd?: number;
  scope: string;
  stop: BudgetStop;
  /** The scope is a quota (its window's counter), not the run's budget. */
  quota?: boolean;
  /** A refused call's own worst case, when held money kept it out. */
  neededUsd?: number;
  /** How long the call waited for holds to end before it was refused, in ms. */
  waitedMs?: number;
  cause?: unknown;
}

/**
 * A run's spend reached its budget. Final: `status` is 402 and the error is stamped not retryable, so
 * LangChain's `modelRetryMiddleware`, LangGraph retry policies and the model's own retries leave it alone.
 *
 * @example
 * ```ts
 * try { await agent.invoke(input); }
 * catch (e) { if (BudgetExceededError.isInstance(e)) console.log(`stopped at $${e.spentUsd} of $${e.limitUsd}`); }
 * ```
 */
export class BudgetExceededError extends MeteredError {
  private readonly [budgetMarker] = true;
  /** HTTP-style status: 402 Payment Required. */
  readonly status = 402;
  /** The budget's limit, in USD. */
  readonly limitUsd: number;
  /** What the scope had spent when it stopped, in USD (may be above the limit: the crossing call was paid for). */
  readonly spentUsd: number;
  /** What calls in flight held when the call was refused (a hard cap's reservations), in USD. */
  readonly heldUsd: number;
  /** What the budget covered: `"run"`, or the name of the scope that refused the call. */
  readonly scope: string;
  /** Whether the call was refused before it was sent, or its cost crossed the limit. */
  readonly stop: BudgetStop;
  /** Whether `scope` is a quota rather than the run's budget. */
  readonly quota: boolean;

  constructor(fields: BudgetStopFields) {
    const { limitUsd, spentUsd, scope, stop } = fields;
    const heldUsd = fields.heldUsd ?? 0;
    const what = fields.quota ? `quota "${scope}"` : `${scope} budget`;
    const howToRaise = fields.quota
      ? "Raise its `limitUsd` in `quotas`, or wait for its window to roll over."
      : "Raise it with `budget: { limitUsd }` on the model, `budgetMiddleware({ limitUsd })` or " +
        "`new BudgetCallbackHandler({ limitUsd })`, or pass `budget: false` to meter without a limit.";
    let state: string;
    if (stop === "refused" && heldUsd > 0 && spentUsd < limitUsd) {
      // Held money, not spent money, kept the call out: say so, or "$0.0018 of $0.005" reads like a bug.
      const needed = fields.neededUsd === undefined ? "" : ` (its worst case is ${usd(fields.neededUsd)})`;
      const waited = fields.waitedMs ? `; it waited ${(fields.waitedMs / 1000).toFixed(1)} s for them to end` : "";
      state = `Call refused: the ${what} can't fit this call${needed}: ${usd(spentUsd)} spent and ${usd(heldUsd)} held by calls in flight, of its ${usd(limitUsd)} limit${waited}.`;
    } else {
      state = `${stop === "refused" ? "Call refused: the" : "The"} ${what} is spent: ${usd(spentUsd)} of its ${usd(limitUsd)} limit.`;
    }
    super(`${state} ${howToRaise}`, { cause: fields.cause });
    this.limitUsd = limitUsd;
    this.spentUsd = spentUsd;
    this.heldUsd = heldUsd;
    this.scope = scope;
    this.stop = stop;
    this.quota = fields.quota ?? false;
    stampRetryable(this, false);
  }

  static override isInstance(error: unknown): error is BudgetExceededError {
    return hasMarker(error, budgetMarker);
  }
}

/**
 * The budget store (e.g. Redis) could not be reached or timed out, so the call was refused: budgets fail
 * closed. Choose `onStoreError: "allow"` to meter locally instead while the store is down.
 */
export class BudgetStoreUnavailableError extends MeteredError {
  private readonly [storeMarker] = true;
  /** HTTP-style status: 503 Service Unavailable. */
  readonly status = 503;

  /** @param reading @internal Set when the store was read for a quota's status, not asked to admit a call. */
  constructor(cause: unknown, reading = false) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      reading
        ? `The budget store is unavailable (${reason}): the quotas' spend can't be read. Check the store (e.g. REDIS_URL).`
        : `The budget store is unavailable (${reason}), so the call was refused: budgets fail closed. Check the store ` +
            `(e.g. REDIS_URL), or pass \`onStoreError: "allow"\` to meter locally while it is down.`,
      { cause },
    );
  }

  static override isInstance(error: unknown): error is BudgetStoreUnavailableError {
    return hasMarker(error, storeMarker);
  }
}

/** A quota's key names a metadata field the run didn't set. */
export class QuotaKeyError extends MeteredError {
  private readonly [quotaKeyMarker] = true;
  readonly template: string;
  readonly field: string;

  constructor(template: string, field: string) {
    super(
      `Quota key "${template}" needs \`${field}\` in the run's metadata, and the run has none. Pass it with ` +
        `\`agent.invoke(input, { metadata: { ${field}: "..." } })\`; a missing field never falls back to a shared bucket.`,
    );
    this.template = template;
    this.field = field;
  }

  static override isInstance(error: unknown): error is QuotaKeyError {
    return hasMarker(error, quotaKeyMarker);
  }
}
