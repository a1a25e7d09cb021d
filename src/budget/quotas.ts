import { usdToNano } from "../pricing/money.js";
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
  /** The most the window may spend, in USD. */
  limitUsd: number;
  /** `"day" | "week" | "month"` on calendar boundaries, or `"total"`. */
  window: QuotaWindow;
  /** An IANA time zone for the calendar boundaries; UTC by default. */
  timeZone?: string;
}

/** A limit a call is checked against: a resolved quota, with the scope name errors report. */
export interface ResolvedQuota extends StoreLimit {
  /** The filled key, without the window (what `BudgetExceededError.scope` names). */
  scope: string;
}

/** How long after its window ends a counter is kept, so calls that started inside it still settle there. */
const WINDOW_GRACE_MS = 60 * 60 * 1000;

/**
 * Fills each quota's key from the run's metadata and picks the window occurrence at `now`. A field the
 * metadata lacks is a `QuotaKeyError`: never a bucket shared by everyone whose field is missing.
 */
export function resolveQuotas(quotas: readonly Quota[], metadata: Record<string, unknown> | undefined, now: number): ResolvedQuota[] {
  const resolved = quotas.map((quota) => {
    const scope = quota.key.replace(/\{([^{}]+)\}/g, (_, field: string) => {
      const value = metadata?.[field];
      // An empty id is as good as none: it would put everyone without one in a shared bucket.
      if ((typeof value !== "string" || value === "") && (typeof value !== "number" || !Number.isFinite(value))) {
        throw new QuotaKeyError(quota.key, field);
      }
      return String(value);
    });
    const span = windowAt(quota.window, now, quota.timeZone);
    return {
      scope,
      key: `${scope}:${span.id}`,
      limitNano: usdToNano(quota.limitUsd),
      expiresAt: span.endsAt === undefined ? undefined : span.endsAt + WINDOW_GRACE_MS,
    };
  });
  // Two quotas on the same counter (the same key and window occurrence) must charge it once: the tighter holds.
  const byKey = new Map<string, ResolvedQuota>();
  for (const quota of resolved) {
    const seen = byKey.get(quota.key);
    if (!seen || quota.limitNano < seen.limitNano) byKey.set(quota.key, quota);
  }
  return [...byKey.values()];
}

/** The scope (the filled key, without its window) a counter key belongs to. */
export function scopeOf(limits: readonly ResolvedQuota[], key: string): string {
  return limits.find((limit) => limit.key === key)?.scope ?? key;
}
