/** The response header in which a LiteLLM proxy states a call's cost, in USD. */
export const LITELLM_COST_HEADER = "x-litellm-response-cost";

const usd = (value: unknown): number | undefined => {
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  return typeof n === "number" && Number.isFinite(n) && n >= 0 ? n : undefined;
};

/** xAI states a call's cost in ticks of 1e-10 USD (`usage.cost_in_usd_ticks`). */
const USD_PER_TICK = 1e-10;

/**
 * @internal The cost an endpoint stated for a call, in USD, if it stated one: `cost` in the raw usage
 * (OpenRouter's `usage.cost`, which LangChain keeps in `response_metadata.usage`; Anthropic-compatible
 * gateways send it on `message_delta`), xAI's `cost_in_usd_ticks`, else a LiteLLM proxy's
 * `x-litellm-response-cost` header.
 */
export function reportedCostOf(
  rawUsage: Readonly<Record<string, unknown>> | undefined,
  headers?: { get(name: string): string | null } | undefined,
): number | undefined {
  const ticks = usd(rawUsage?.cost_in_usd_ticks);
  return usd(rawUsage?.cost) ?? (ticks === undefined ? undefined : ticks * USD_PER_TICK) ?? usd(headers?.get(LITELLM_COST_HEADER));
}
