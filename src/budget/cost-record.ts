import type { Cost } from "../pricing/price-usage.js";
import type { Usage } from "../usage/usage.js";

/**
 * What the budget decided for a call: `allowed`; `clamped` (a hard cap lowered its max tokens to what the
 * budget could pay for); `refused` before it was sent; or `exceeded` (its cost took the spend over the limit).
 */
export type BudgetDecision = "allowed" | "clamped" | "refused" | "exceeded";

/** The budget's view of one call, as it stood once the call was settled. */
export interface BudgetView {
  decision: BudgetDecision;
  /** The limit, in USD (`Infinity` for a scope without one). */
  limitUsd: number;
  /** The scope's spend after this call, in USD. */
  spentUsd: number;
  /** What is left, in USD. */
  remainingUsd: number;
  /** Under a hard cap: the max tokens sent with the call. */
  maxTokens?: number;
  /** Under a hard cap: the worst case held before the call, in USD (compare with `cost.totalUsd`). */
  reservedUsd?: number;
}

/** One priced call, as reported to `onCost` and kept in a budget's `records`. */
export interface CostRecord {
  /** Unique per call: the budget store and the metering log settle each call once by it. */
  callId: string;
  /** The LangChain run id of the chat-model call, when the call ran with callbacks. */
  runId: string | undefined;
  /** The run it was part of (the agent step, chain or tool that made it). */
  parentRunId: string | undefined;
  /** The model the response names, else the configured one. */
  model: string;
  provider: string | undefined;
  usage: Usage;
  cost: Cost;
  /** True when the usage was counted locally (no usage in the response, a call cut short or failed after it was sent). */
  estimated: boolean;
  /** When the call ended. */
  at: Date;
  /** The budget's decision, on records kept by a budget. */
  budget?: BudgetView;
}

/** Each cost object a record was made of, to its record: a cost on a message leads back to its budget's view. */
const records = new WeakMap<Cost, CostRecord>();

/** @internal The record a call's cost (as put on `response_metadata.cost`) belongs to, if a budget kept one. */
export function recordOfCost(cost: Cost | undefined): CostRecord | undefined {
  return cost ? records.get(cost) : undefined;
}

/** The error a call ended with (a budget's stop), to its record: a tracer sees the error, not the record. */
const recordsOfErrors = new WeakMap<object, CostRecord>();

/** @internal Notes that the call of `record` ended with `error`. */
export function linkErrorRecord(error: unknown, record: CostRecord | undefined): void {
  if (record && typeof error === "object" && error !== null) recordsOfErrors.set(error, record);
}

/** @internal The record of the call that ended with `error`, if any. */
export function recordOfError(error: unknown): CostRecord | undefined {
  return typeof error === "object" && error !== null ? recordsOfErrors.get(error) : undefined;
}

/** @internal The record of an ended call, as `onCost` and a budget's `records` hold it. */
export function costRecord(
  callId: string,
  priced: { usage: Usage; cost: Cost },
  run: { runId?: string | undefined; parentRunId?: string | undefined },
  budget?: BudgetView,
): CostRecord {
  const record: CostRecord = {
    callId,
    runId: run.runId,
    parentRunId: run.parentRunId,
    model: priced.cost.model,
    provider: priced.cost.provider,
    usage: priced.usage,
    cost: priced.cost,
    estimated: priced.cost.estimated,
    at: new Date(),
    ...(budget ? { budget } : {}),
  };
  records.set(priced.cost, record);
  return record;
}
