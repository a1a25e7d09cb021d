import type { UsageMetadata } from "@langchain/core/messages";
import { usageContract } from "./providers.js";

/**
 * One call's token usage, normalized. The contract, whatever the provider:
 * - `inputTokens` counts every input token, including `cacheReadTokens`, `cacheWriteTokens` and `inputAudioTokens`;
 * - `outputTokens` counts every output token, including `reasoningTokens` and `outputAudioTokens`;
 * - `cacheWrite1hTokens` is the part of `cacheWriteTokens` written with a one-hour TTL (Anthropic);
 * - `cacheReadAudioTokens` is the part of `cacheReadTokens` that is audio (Gemini), and `inputAudioTokens`
 *   the audio input read fresh (not from a cache).
 * Every field is a non-negative integer; what the provider did not report is 0.
 */
export interface Usage {
  inputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  cacheWrite1hTokens: number;
  /** Absent: 0. */
  cacheReadAudioTokens?: number;
  inputAudioTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  outputAudioTokens: number;
  /** Web searches a provider's server tool ran for the call (Anthropic's `server_tool_use.web_search_requests`), billed per search. Absent: 0. */
  webSearchRequests?: number;
}

/** A `Usage` with every count at 0. */
export const ZERO_USAGE: Readonly<Usage> = Object.freeze({
  inputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  cacheWrite1hTokens: 0,
  cacheReadAudioTokens: 0,
  inputAudioTokens: 0,
  outputTokens: 0,
  reasoningTokens: 0,
  outputAudioTokens: 0,
});

/**
 * Builds a `Usage` from LangChain's `usage_metadata`: the one place where every path (invoke, stream,
 * Responses API, any provider package) is read. `provider` (LangChain's `ls_provider`, e.g. "anthropic",
 * "google_genai", or a genai-prices id) picks that provider's contract (see `src/usage/providers.ts`):
 * Gemini's thinking tokens, missing from its `output_tokens`, are recovered from `total_tokens`. Without
 * a provider, OpenAI's contract applies; undefined details are 0.
 *
 * @example
 * ```ts
 * normalizeUsage(message.usage_metadata, "anthropic"); // { inputTokens: 1200, cacheReadTokens: 1000, ... }
 * ```
 */
export function normalizeUsage(metadata: Partial<UsageMetadata> | undefined | null, provider?: string): Usage {
  return usageContract(provider).normalize(metadata ?? {});
}
