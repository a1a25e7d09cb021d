/** The response header in which a LiteLLM proxy states a call's cost, in USD. */
export const LITELLM_COST_HEADER = "x-litellm-response-cost";

const usd = (value: unknown): number | undefined => {
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  return typeof n === "number" && Number.isFinite(n) && n >= 0 ? n : undefined;
};

/**
 * @internal The cost an endpoint stated for a call, in USD, if it stated one: `cost` in the raw usage
 * (OpenRouter's `usage.cost`, which LangChain keeps in `response_metadata.usage`; Anthropic-compatible
 * gateways send it on `message_delta`), else a LiteLLM proxy's `x-litellm-response-cost` header.
 */
export function reportedCostOf(
  rawUsage: Readonly<Record<string, unknown>> | undefined,
  headers?: { get(name: string): string | null } | undefined,
): number | undefined {
  return usd(rawUsage?.cost) ?? usd(headers?.get(LITELLM_COST_HEADER));
}
