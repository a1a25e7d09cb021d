/**
 * Small helpers for cost assertions. They only re-express what a cost says (USD → nano-USD); they never
 * price anything, so expected figures in tests stay worked out by hand.
 */
import type { Cost } from "../../src/index.js";

/** A cost's details in integer nano-USD (each detail is an exact multiple of 1e-9 USD). */
export function detailsInNano(cost: Pick<Cost, "details">): Record<string, number> {
  return Object.fromEntries(Object.entries(cost.details).map(([key, usd]) => [key, Math.round((usd ?? 0) * 1e9)]));
}

/** The sum of a cost's details, in nano-USD. */
export function detailsSumNano(cost: Pick<Cost, "details">): number {
  return Object.values(detailsInNano(cost)).reduce((sum, nano) => sum + nano, 0);
}
