import type { CostRecord } from "../budget/cost-record.js";
import { nanoToUsd } from "../pricing/money.js";
import { contextStorage, contextVariable, runWithContextVariable } from "./internals.js";

/** What {@link trackCost} gives back: the function's result, and what its metered calls cost. */
export interface TrackedCost<T> {
  result: T;
  /** The sum of the records' costs, in USD (exact: summed in nano-USD). */
  costUsd: number;
  /** One record per metered call that ended inside, in the order they ended. */
  records: CostRecord[];
}

const TRACKERS = Symbol.for("langchain-metered.costTrackers");

/**
 * Runs `run` and adds up what every metered call inside it cost (`MeteredChatModel`, `meter()` models; in
 * nested runs, agents, tools and sub-agents too), like LangChain Python's `get_openai_callback`. It sets no
 * budget and changes none: the models' own budgets apply as usual. Calls of plain (unmetered) models are not
 * seen: put a `BudgetCallbackHandler` on those. Trackers nest: an outer one sees the calls of an inner one.
 * Needs AsyncLocalStorage (Node, Deno, Bun, workers with `nodejs_compat`).
 *
 * @example
 * ```ts
 * const { result, costUsd, records } = await trackCost(() => agent.invoke({ messages }));
 * ```
 */
export async function trackCost<T>(run: () => T | Promise<T>): Promise<TrackedCost<T>> {
  const storage = contextStorage();
  if (!storage) throw new Error("trackCost() needs AsyncLocalStorage (Node, Deno, Bun, or an edge runtime with it enabled).");
  const records: CostRecord[] = [];
  const outer = contextVariable<CostRecord[][]>(storage, TRACKERS) ?? [];
  const result = await runWithContextVariable(storage, TRACKERS, [...outer, records], run);
  const nano = records.reduce((sum, record) => sum + record.cost.nanoUsd, 0);
  return { result, costUsd: nanoToUsd(nano), records };
}

/** @internal Adds an ended metered call's record to every `trackCost` it runs inside, if any. */
export function trackRecord(record: CostRecord): void {
  const storage = contextStorage();
  const trackers = storage && contextVariable<CostRecord[][]>(storage, TRACKERS);
  if (trackers) for (const records of trackers) records.push(record);
}
