import type { Serialized } from "@langchain/core/load/serializable";

/** @internal The namespace our classes serialize under, and the key of `meteredImportMap`. */
export const METERED_NAMESPACE = ["langchain_metered", "chat_models"];

/** @internal The metering fields that serialize with a model (plain data; `onCost`, a function, does not). */
export const SERIALIZED_METERING_KEYS = ["prices", "budget", "costSource", "provider", "missingRates"] as const;

/** Budget fields that hold live objects: a store's connection, a sink's file. */
const LIVE_BUDGET_KEYS = ["store", "meter"] as const;

type Loose = Record<string, unknown>;

/** @internal A serialized MeteredChatModel (from ChatOpenAI's `toJSON()`), with its budget safe to store. */
export function withLiveObjectsMarked(serialized: Serialized, given: { budget?: unknown }): Serialized {
  if (serialized.type !== "constructor" || !serialized.kwargs.budget) return serialized;
  return { ...serialized, kwargs: { ...serialized.kwargs, budget: storableBudget(serialized.kwargs.budget as Loose, given.budget) } };
}

/** @internal `meter()`'s options as they serialize: the plain-data metering fields, the budget safe to store. */
export function serializableMetering(options: Loose): Loose {
  const kept: Loose = {};
  for (const key of SERIALIZED_METERING_KEYS) {
    if (options[key] !== undefined) kept[key] = key === "budget" ? storableBudget(options.budget, options.budget) : options[key];
  }
  return kept;
}

/**
 * A budget's `store` or `meter` is a live object (a Redis connection, an open file), so it is written as
 * LangChain's "not implemented" marker: `load()` of it fails naming the field instead of reviving the model
 * with its quotas kept only in memory.
 */
function storableBudget(budget: unknown, live: unknown): unknown {
  if (!budget || typeof budget !== "object" || !live || typeof live !== "object") return budget;
  const marked: Loose = { ...(budget as Loose) };
  for (const key of LIVE_BUDGET_KEYS) {
    const value = (live as Loose)[key];
    if (value !== undefined) marked[key] = notImplemented(value, `budget.${key}`);
  }
  return marked;
}

function notImplemented(value: unknown, field: string): Serialized {
  const name = (value as { constructor?: { name?: string } }).constructor?.name ?? "an object";
  return { lc: 1, type: "not_implemented", id: [...METERED_NAMESPACE, `${name} at ${field}: a live object, not serialized; construct this model in code`] };
}
