import { nanoToUsd, type NanoUsd } from "../pricing/money.js";
import type { BudgetStore } from "./store.js";

/** A budget or quota reached a share of its limit (see `onThreshold`). */
export interface ThresholdAlert {
  /** `"run"` for the run's budget, else the filled quota key (`tenant:acme`). */
  scope: string;
  /** The quota's window occurrence (`month:2026-12`), absent for the run's budget. */
  window?: string;
  /** The share of the limit reached: one of `thresholds` (e.g. 0.8, 1). */
  threshold: number;
  spentUsd: number;
  limitUsd: number;
}

/** Something a budget decided about a call (see `onEvent`). */
export interface BudgetEvent {
  /** `"refused"` before it was sent, `"clamped"` (a hard cap lowered its max tokens), `"downgraded"` (sent to the downgrade model), `"exceeded"` (its cost took a limit over). */
  type: "refused" | "clamped" | "downgraded" | "exceeded";
  /** `"run"`, or the filled quota key that decided. */
  scope: string;
  model: string;
  /** The call's cost, in USD ($0 for a refused call). */
  costUsd: number;
  spentUsd: number;
  limitUsd: number;
  /** For `"clamped"`: the max tokens sent. For `"downgraded"`: the model the call was meant for. */
  maxTokens?: number;
  downgradedFrom?: string;
}

/** @internal The alert settings of a budget. */
export interface AlertSettings {
  onThreshold: ((alert: ThresholdAlert) => unknown) | undefined;
  thresholds: readonly number[];
  onEvent: ((event: BudgetEvent) => unknown) | undefined;
}

export const DEFAULT_THRESHOLDS: readonly number[] = [0.8, 1];

let warned = false;

/** Calls a user's alert callback: a throw or a rejection never fails a call (it warns once). */
function safely(callback: (payload: never) => unknown, payload: unknown): void {
  const warn = (error: unknown) => {
    if (!warned) console.warn("langchain-metered: an alert callback (onThreshold / onEvent) failed; calls go on.", error);
    warned = true;
  };
  try {
    const result = callback(payload as never);
    if (result instanceof Promise) result.catch(warn);
  } catch (error) {
    warn(error);
  }
}

/** @internal Sends a budget event, if the budget has a listener. */
export function emitEvent(settings: AlertSettings, event: BudgetEvent): void {
  if (settings.onEvent) safely(settings.onEvent, event);
}

/**
 * @internal Fires `onThreshold` for each threshold `spent` has reached since `before`, once per scope and
 * window: claimed in `claim` (the run's own memory, or the quota store, so a fleet on one Redis fires it once).
 */
export async function crossThresholds(
  settings: AlertSettings,
  target: { scope: string; window?: string; limitNano: NanoUsd; beforeNano: NanoUsd; spentNano: NanoUsd },
  claim: (id: string) => Promise<boolean>,
): Promise<void> {
  const { onThreshold, thresholds } = settings;
  const { limitNano, beforeNano, spentNano } = target;
  if (!onThreshold || limitNano <= 0) return;
  for (const threshold of thresholds) {
    const at = threshold * limitNano;
    if (spentNano < at || beforeNano >= at) continue;
    const id = `${target.scope}${target.window ? `:${target.window}` : ""}:${threshold}`;
    if (!(await claim(id).catch(() => true))) continue; // a store that can't say: better twice than never
    safely(onThreshold, {
      scope: target.scope,
      ...(target.window ? { window: target.window } : {}),
      threshold,
      spentUsd: nanoToUsd(spentNano),
      limitUsd: nanoToUsd(limitNano),
    } satisfies ThresholdAlert);
  }
}

/** @internal Claims an alert once in a store that can (Redis: across the fleet), else once in this process. */
export function claimIn(store: BudgetStore, expiresAt: number | undefined): (id: string) => Promise<boolean> {
  if (typeof store.claimOnce === "function") return (id) => (store.claimOnce as NonNullable<BudgetStore["claimOnce"]>).call(store, `alert:${id}`, expiresAt);
  return async (id) => {
    if (localClaims.has(id)) return false;
    if (localClaims.size >= MAX_LOCAL_CLAIMS) localClaims.delete(localClaims.values().next().value as string);
    localClaims.add(id);
    return true;
  };
}

const localClaims = new Set<string>();
const MAX_LOCAL_CLAIMS = 100_000;
