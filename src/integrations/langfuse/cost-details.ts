import type { BaseMessage, UsageMetadata } from "@langchain/core/messages";
import type { LLMResult } from "@langchain/core/outputs";
import type { CostKey } from "../../pricing/cost.js";
import type { Cost } from "../../pricing/price-usage.js";
import type { Usage } from "../../usage/usage.js";

/**
 * @internal Langfuse's LangChain handlers (v3 and v5 alike) name usage details `input_<key>` / `output_<key>`
 * after LangChain's `input_token_details` / `output_token_details`. Our cost keys follow Langfuse's own names;
 * only the cache write differs (LangChain calls it `cache_creation`).
 */
const USAGE_KEY: Record<CostKey, string> = {
  input: "input",
  input_cache_read: "input_cache_read",
  input_cache_write: "input_cache_creation",
  input_audio: "input_audio",
  output: "output",
  output_reasoning: "output_reasoning",
  output_audio: "output_audio",
  web_search: "web_search",
};

type TokenUsage = { promptTokens?: number; completionTokens?: number; totalTokens?: number };

/**
 * @internal The generation a Langfuse handler reads usage from: the last one of the last prompt (with
 * `n > 1` every generation carries the same usage and the same cost).
 */
export function lastMessageOf(output: LLMResult): BaseMessage | undefined {
  const generations = output.generations.at(-1);
  return (generations?.at(-1) as { message?: BaseMessage } | undefined)?.message;
}

/**
 * @internal The usage detail keys the Langfuse handlers send for this output, worked out the way they do:
 * `input`, `output`, `total`, then one `input_<k>` / `output_<k>` per token detail LangChain reported (zeros
 * included). Falls back to `llmOutput.tokenUsage` like they do.
 */
export function usageKeysOf(output: LLMResult): string[] {
  const usage = (lastMessageOf(output) as { usage_metadata?: Partial<UsageMetadata> } | undefined)?.usage_metadata;
  const tokenUsage = output.llmOutput?.tokenUsage as TokenUsage | undefined;
  const keys: string[] = [];
  const add = (key: string, value: unknown) => {
    if (typeof value === "number") keys.push(key);
  };
  add("input", usage ? usage.input_tokens : tokenUsage?.promptTokens);
  add("output", usage ? usage.output_tokens : tokenUsage?.completionTokens);
  add("total", usage ? usage.total_tokens : tokenUsage?.totalTokens);
  for (const [key, value] of Object.entries(usage?.input_token_details ?? {})) add(`input_${key}`, value);
  for (const [key, value] of Object.entries(usage?.output_token_details ?? {})) add(`output_${key}`, value);
  return keys;
}

/**
 * @internal A cost as Langfuse `costDetails`: USD under the same keys as the usage sent beside it (0 for a
 * kind that cost nothing), plus `total`. A cost kind with no usage key still shows, under its own name:
 * money is never dropped to make keys line up.
 */
export function costDetailsFor(cost: Cost, usageKeys: readonly string[]): Record<string, number> {
  const details: Record<string, number> = {};
  for (const key of usageKeys) if (key !== "total") details[key] = 0;
  for (const [key, usd] of Object.entries(cost.details) as Array<[CostKey, number | undefined]>) {
    details[USAGE_KEY[key] ?? key] = usd ?? 0;
  }
  details.total = cost.totalUsd;
  // Langfuse drops a cost detail that isn't a non-negative number; ours always are, but never send one.
  for (const [key, usd] of Object.entries(details)) if (!(Number.isFinite(usd) && usd >= 0)) delete details[key];
  return details;
}

/**
 * @internal Langfuse `usageDetails` for a call the handlers report no usage for (it ended in an error, e.g.
 * the budget's), keyed as they key it: `input` and `output` net of the kinds named apart.
 */
export function usageDetailsFor(usage: Usage): Record<string, number> {
  const details: Record<string, number> = {
    input: Math.max(0, usage.inputTokens - usage.cacheReadTokens - usage.cacheWriteTokens - usage.inputAudioTokens),
    output: Math.max(0, usage.outputTokens - usage.reasoningTokens - usage.outputAudioTokens),
    total: usage.inputTokens + usage.outputTokens,
  };
  const named: Array<[string, number]> = [
    [USAGE_KEY.input_cache_read, usage.cacheReadTokens],
    [USAGE_KEY.input_cache_write, usage.cacheWriteTokens],
    [USAGE_KEY.input_audio, usage.inputAudioTokens],
    [USAGE_KEY.output_reasoning, usage.reasoningTokens],
    [USAGE_KEY.output_audio, usage.outputAudioTokens],
  ];
  for (const [key, tokens] of named) if (tokens > 0) details[key] = tokens;
  return details;
}
