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
  /** The limit, in USD (`Infinity` for a run no metered model gave a limit). */
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
  /** The LangChain run id of the chat-model call, when the call ran with callbacks. */
  runId: string | undefined;
  /** The run it was part of (the agent step, chain or tool that made it). */
  parentRunId: string | undefined;
  /** The model the response names, else the configured one. */
  model: string;
  provider: string | undefined;
  usage: Usage;
  cost: Cost;
  /** True when the usage was counted locally (no usage in the response, or a stream cut short). */
  estimated: boolean;
  /** When the call was priced. */
  at: Date;
  /** The budget's decision, on records kept by a budget. */
  budget?: BudgetView;
}

/** @internal The record of a priced call, as `onCost` and a budget's `records` hold it. */
export function costRecord(
  priced: { usage: Usage; cost: Cost },
  run: { runId: string | undefined; parentRunId: string | undefined },
  budget?: BudgetView,
): CostRecord {
  return {
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
}
