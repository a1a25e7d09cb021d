import { usdToNano } from "../pricing/money.js";
import { InvalidOptionsError } from "../errors.js";
import { describeValue } from "../validation.js";
import { QuotaKeyError } from "./errors.js";
import type { StoreLimit } from "./store.js";
import { type QuotaWindow, windowAt } from "./windows.js";

/**
 * A named limit over a calendar window, shared by every run whose metadata fills its key: e.g.
 * `{ key: "tenant:{tenant_id}", limitUsd: 500, window: "month" }` with `config.metadata.tenant_id`.
 */
export interface Quota {
  /** A key template; each `{field}` is filled from the run's `config.metadata`. */
  key: string;
  /**
   * The most the window may spend, in USD; or a plan: a function of the filled key's fields and the run's
   * metadata (sync or async), asked once per window and key (e.g. gold tenants $500, free ones $5).
   */
  limitUsd: number | QuotaPlan;
  /** `"day" | "week" | "month"` on calendar boundaries, or `"total"`. */
  window: QuotaWindow;
  /** An IANA time zone for the calendar boundaries; UTC by default. */
  timeZone?: string;
}

/** A quota's limit as a function of who is asking: asked once per window occurrence and filled key. */
export type QuotaPlan = (who: {
  /** The filled key (`tenant:acme`). */
  key: string;
  /** The key's fields, as filled (`{ tenant: "acme" }`). */
  fields: Record<string, string>;
  /** The run's metadata. */
  metadata: Record<string, unknown>;
}) => number | Promise<number>;

/** A limit a call is checked against: a resolved quota, with the scope name errors report. */
export interface ResolvedQuota extends StoreLimit {
  /** The filled key, without the window (what `BudgetExceededError.scope` names). */
  scope: string;
}

/** How long after its window ends a counter is kept, so calls that started inside it still settle there. */
const WINDOW_GRACE_MS = 60 * 60 * 1000;

/**
 * Fills each quota's key from the run's metadata, picks the window occurrence at `now` and finds its limit
 * (a plan's is asked once per occurrence and key, then remembered). A field the metadata lacks is a
 * `QuotaKeyError`: never a bucket shared by everyone whose field is missing.
 */
export async function resolveQuotas(quotas: readonly Quota[], metadata: Record<string, unknown> | undefined, now: number): Promise<ResolvedQuota[]> {
  const resolved = await Promise.all(
    quotas.map(async (quota) => {
      const fields: Record<string, string> = {};
      const scope = quota.key.replace(/\{([^{}]+)\}/g, (_, field: string) => {
        const value = metadata?.[field];
        // An empty id is as good as none: it would put everyone without one in a shared bucket.
        if ((typeof value !== "string" || value === "") && (typeof value !== "number" || !Number.isFinite(value))) {
          throw new QuotaKeyError(quota.key, field);
        }
        return (fields[field] = String(value));
      });
      const span = windowAt(quota.window, now, quota.timeZone);
      const key = `${scope}:${span.id}`;
      const limitUsd = typeof quota.limitUsd === "number" ? quota.limitUsd : await planned(quota, quota.limitUsd, key, { key: scope, fields, metadata: metadata ?? {} });
      return { scope, key, limitNano: usdToNano(limitUsd), expiresAt: span.endsAt === undefined ? undefined : span.endsAt + WINDOW_GRACE_MS };
    }),
  );
  // Two quotas on the same counter (the same key and window occurrence) must charge it once: the tighter holds.
  const byKey = new Map<string, ResolvedQuota>();
  for (const quota of resolved) {
    const seen = byKey.get(quota.key);
    if (!seen || quota.limitNano < seen.limitNano) byKey.set(quota.key, quota);
  }
  return [...byKey.values()];
}

/** Plans' answers, per quota, by counter key (the window occurrence is in it): a plan is asked once per window. */
const plannedLimits = new WeakMap<Quota, Map<string, Promise<number>>>();
/** Counter keys remembered per quota: the oldest go first (windows end; a plan's tenants come and go). */
const MAX_PLANNED_KEYS = 10_000;

function planned(quota: Quota, plan: QuotaPlan, counterKey: string, who: Parameters<QuotaPlan>[0]): Promise<number> {
  let byKey = plannedLimits.get(quota);
  if (!byKey) plannedLimits.set(quota, (byKey = new Map()));
  let limit = byKey.get(counterKey);
  if (!limit) {
    if (byKey.size >= MAX_PLANNED_KEYS) byKey.delete(byKey.keys().next().value as string);
    limit = Promise.resolve()
      .then(() => plan(who))
      .then((usd) => {
        if (typeof usd !== "number" || !Number.isFinite(usd) || usd < 0) {
          throw new InvalidOptionsError("a quota plan", [`quotas["${quota.key}"].limitUsd for ${who.key}: expected a number of USD ≥ 0, got ${describeValue(usd)}`]);
        }
        return usd;
      });
    // A plan that failed is asked again next time (its error reaches this call, and the call is refused).
    limit.catch(() => byKey.delete(counterKey));
    byKey.set(counterKey, limit);
  }
  return limit;
}

/** The scope (the filled key, without its window) a counter key belongs to. */
export function scopeOf(limits: readonly ResolvedQuota[], key: string): string {
  return limits.find((limit) => limit.key === key)?.scope ?? key;
}
