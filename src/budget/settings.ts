import { z } from "zod";
import { type NanoUsd, usdToNano } from "../pricing/money.js";
import { aFunction, describeValue } from "../validation.js";
import type { MeterSink } from "./meter-sink.js";
import { defaultStore } from "./process-stores.js";
import { type AlertSettings, type BudgetEvent, DEFAULT_THRESHOLDS, type ThresholdAlert } from "./alerts.js";
import type { Quota, QuotaPlan } from "./quotas.js";
import type { BudgetStore } from "./store.js";
import { isTimeZone } from "./windows.js";

/** What to do when the store can't answer: refuse the call (default), or meter locally and go on. */
export type StoreErrorPolicy = "deny" | "allow";

/** The spending limits of a budget: the same options on a model's `budget`, a handler, the middleware and `withBudget`. */
export interface BudgetOptions {
  /** The most the scope may spend, in USD. Default 2. */
  limitUsd?: number;
  /**
   * Never let spend cross the limit: reserve each call's worst case before it is sent, lower its max tokens
   * to what the budget can pay for, and refuse it when even a short answer doesn't fit. Default false.
   */
  hardCap?: boolean;
  /** Limits over calendar windows shared by every run whose metadata fills their keys (a user, a tenant). */
  quotas?: Quota[];
  /** Where quotas keep their spend: this process's memory (default), or `RedisBudgetStore` for a fleet. */
  store?: BudgetStore;
  /** When the store can't answer: `"deny"` refuses the call (default, fail closed), `"allow"` meters locally. */
  onStoreError?: StoreErrorPolicy;
  /** Receives one entry per priced call, for billing (e.g. `JsonlMeterSink` from `langchain-metered/jsonl`). */
  meter?: MeterSink;
  /**
   * How long a hard cap's hold lives in the store if its worker never ends the call (it crashed): then the
   * hold is charged at its full amount. Must exceed the model's request timeout. Default 10 minutes.
   */
  reservationTtlMs?: number;
  /**
   * How long a hard-capped call waits for holds of calls in flight (this run's, or other runs' and workers'
   * on a shared quota) to end when its worst case doesn't fit beside them, before it is refused. Default 60 s.
   */
  holdWaitMs?: number;
  /**
   * Called once a budget or quota has spent each share of its limit in `thresholds`: once per run for the
   * run's budget, once per window and key for a quota (once across a fleet with `RedisBudgetStore`). A callback
   * that throws or rejects never fails a call.
   */
  onThreshold?: (alert: ThresholdAlert) => unknown;
  /** The shares of a limit that fire `onThreshold`. Default `[0.8, 1]`. */
  thresholds?: number[];
  /** Called for each call the budget refused, clamped (hard cap), downgraded, or that took it over a limit. */
  onEvent?: (event: BudgetEvent) => unknown;
}

/** @internal Validated budget options, with every default filled in. Shared, never mutated. */
export interface BudgetSettings {
  readonly limitNano: NanoUsd | undefined;
  readonly hardCap: boolean;
  readonly quotas: readonly Quota[];
  readonly store: BudgetStore;
  readonly onStoreError: StoreErrorPolicy;
  readonly meter: MeterSink | undefined;
  readonly scope: string;
  readonly reservationTtlMs: number;
  readonly holdWaitMs: number;
  /**
   * A stop ends the run gracefully instead of throwing (`budgetMiddleware({ exitBehavior: "end" })`): the call
   * that crosses the limit keeps its answer, and a refused call answers with a message saying the budget is spent.
   */
  readonly endGracefully: boolean;
  readonly alerts: AlertSettings;
}

export const DEFAULT_LIMIT_USD = 2;
const DEFAULT_RESERVATION_TTL_MS = 10 * 60 * 1000;
const DEFAULT_HOLD_WAIT_MS = 60 * 1000;

const quota = z.strictObject({
  key: z.string().min(1),
  limitUsd: z.custom<number | QuotaPlan>(
    (value) => typeof value === "function" || (typeof value === "number" && Number.isFinite(value) && value >= 0),
    { error: (issue) => `Expected a number of USD ≥ 0, or a plan (a function of the key's fields), got ${describeValue(issue.input)}` },
  ),
  window: z.enum(["day", "week", "month", "total"]),
  timeZone: z.string().refine(isTimeZone, { message: 'Unknown time zone (use an IANA name such as "Europe/Paris")' }).optional(),
});

const isStore = (value: unknown): value is BudgetStore =>
  ["check", "reserve", "settle", "release", "now"].every((method) => typeof (value as Record<string, unknown> | null)?.[method] === "function");
const isSink = (value: unknown): value is MeterSink => typeof (value as { write?: unknown } | null)?.write === "function";

/** The options every budget takes; each entry point extends it with its own keys. Built once. */
export const budgetOptionsShape = {
  limitUsd: z.number().finite().nonnegative().optional(),
  hardCap: z.boolean().optional(),
  quotas: z.array(quota).optional(),
  store: z
    .custom<BudgetStore>(isStore, { error: (issue) => `Expected a BudgetStore (check, reserve, settle, release, now), got ${describeValue(issue.input)}` })
    .optional(),
  onStoreError: z.enum(["deny", "allow"]).optional(),
  meter: z
    .custom<MeterSink>(isSink, {
      error: (issue) =>
        `Expected a MeterSink (an object with write(entry)), got ${describeValue(issue.input)}` +
        (typeof issue.input === "string" ? `; for a JSON Lines file use new JsonlMeterSink(${JSON.stringify(issue.input)})` : ""),
    })
    .optional(),
  reservationTtlMs: z.number().int().min(1000, "Must be at least 1000 ms: a hold must outlive the call it covers").optional(),
  holdWaitMs: z.number().int().nonnegative().optional(),
  onThreshold: aFunction<(alert: ThresholdAlert) => unknown>().optional(),
  thresholds: z.array(z.number().finite().positive()).min(1).optional(),
  onEvent: aFunction<(event: BudgetEvent) => unknown>().optional(),
} as const;


/** @internal Settings from parsed options; `limitUsd: undefined` keeps the default, `null` means no limit. */
export function budgetSettings(
  options: z.infer<z.ZodObject<typeof budgetOptionsShape>>,
  scope: string,
  { noLimit = false, endGracefully = false } = {},
): BudgetSettings {
  return {
    limitNano: noLimit ? undefined : usdToNano(options.limitUsd ?? DEFAULT_LIMIT_USD),
    hardCap: options.hardCap ?? false,
    quotas: (options.quotas ?? []) as Quota[],
    store: options.store ?? defaultStore(),
    onStoreError: options.onStoreError ?? "deny",
    meter: options.meter,
    alerts: {
      onThreshold: options.onThreshold,
      thresholds: [...(options.thresholds ?? DEFAULT_THRESHOLDS)].sort((a, b) => a - b),
      onEvent: options.onEvent,
    },
    scope,
    reservationTtlMs: options.reservationTtlMs ?? DEFAULT_RESERVATION_TTL_MS,
    holdWaitMs: options.holdWaitMs ?? DEFAULT_HOLD_WAIT_MS,
    endGracefully,
  };
}
