import type { BaseMessage } from "@langchain/core/messages";
import type { Cost } from "../pricing/price-usage.js";

/**
 * The cost a metered model put on a message (`response_metadata.cost`), typed; `undefined` for a message no
 * metered model answered (a plain model's, a human's). LangChain types `response_metadata` loosely, so
 * reading the field directly gives `any` or `unknown`: use this instead.
 *
 * @example
 * ```ts
 * const message = await model.invoke("Hello");
 * console.log(costOf(message)?.totalUsd); // 0.000045
 * ```
 */
export function costOf(message: Pick<BaseMessage, "response_metadata"> | null | undefined): Cost | undefined {
  const cost = (message?.response_metadata as { cost?: unknown } | undefined)?.cost;
  return isCost(cost) ? cost : undefined;
}

function isCost(value: unknown): value is Cost {
  const cost = value as Partial<Cost> | null | undefined;
  return typeof cost === "object" && cost !== null && typeof cost.totalUsd === "number" && typeof cost.nanoUsd === "number";
}
