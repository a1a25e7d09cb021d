import { stampRetryable } from "@langchain/core/errors";
import { hasMarker, MeteredError } from "../errors.js";

const budgetMarker = Symbol.for("langchain-metered.BudgetExceededError");
const storeMarker = Symbol.for("langchain-metered.BudgetStoreUnavailableError");
const quotaKeyMarker = Symbol.for("langchain-metered.QuotaKeyError");

/** How a budget stopped a call: refused before it was sent, or its cost crossed the limit. */
export type BudgetStop = "refused" | "exceeded";

const usd = (value: number) => `$${value.toFixed(value >= 1 ? 2 : 6).replace(/(\.\d\d\d*?)0+$/, "$1")}`;

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
  /** What the budget covered: `"run"`, or the name of the scope that refused the call. */
  readonly scope: string;
  /** Whether the call was refused before it was sent, or its cost crossed the limit. */
  readonly stop: BudgetStop;

  constructor(fields: {
    limitUsd: number;
    spentUsd: number;
    scope: string;
    stop: BudgetStop;
    /** The scope is a quota (its window's counter), not the run's budget. */
    quota?: boolean;
    cause?: unknown;
  }) {
    const { limitUsd, spentUsd, scope, stop } = fields;
    const what = stop === "refused" ? "Call refused: the" : "The";
    const howToRaise = fields.quota
      ? "Raise its `limitUsd` in `quotas`, or wait for its window to roll over."
      : "Raise it with `budget: { limitUsd }` on MeteredChatModel or `new BudgetCallbackHandler({ limitUsd })`, " +
        "or pass `budget: false` to meter without a limit.";
    super(
      `${what} ${fields.quota ? `quota "${scope}"` : `${scope} budget`} is spent: ${usd(spentUsd)} of its ` +
        `${usd(limitUsd)} limit. ${howToRaise}`,
      { cause: fields.cause },
    );
    this.limitUsd = limitUsd;
    this.spentUsd = spentUsd;
    this.scope = scope;
    this.stop = stop;
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

  constructor(cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      `The budget store is unavailable (${reason}), so the call was refused: budgets fail closed. Check the store ` +
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
