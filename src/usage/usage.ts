import type { UsageMetadata } from "@langchain/core/messages";

/**
 * One call's token usage, normalized. The contract, whatever the provider:
 * - `inputTokens` counts every input token, including `cacheReadTokens`, `cacheWriteTokens` and `inputAudioTokens`;
 * - `outputTokens` counts every output token, including `reasoningTokens` and `outputAudioTokens`;
 * - `cacheWrite1hTokens` is the part of `cacheWriteTokens` written with a one-hour TTL (Anthropic).
 * Every field is a non-negative integer; what the provider did not report is 0.
 */
export interface Usage {
  inputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  cacheWrite1hTokens: number;
  inputAudioTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  outputAudioTokens: number;
}

/** A `Usage` with every count at 0. */
export const ZERO_USAGE: Readonly<Usage> = Object.freeze({
  inputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  cacheWrite1hTokens: 0,
  inputAudioTokens: 0,
  outputTokens: 0,
  reasoningTokens: 0,
  outputAudioTokens: 0,
});

const count = (value: unknown): number =>
  typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.round(value) : 0;

/**
 * Builds a `Usage` from LangChain's `usage_metadata`, the one place where every path (invoke, stream,
 * Responses API, any provider package) is read. LangChain's providers already put cache reads and
 * writes inside `input_tokens` (OpenAI reports them that way; `@langchain/anthropic` adds them back) and
 * reasoning inside `output_tokens`; undefined details are 0.
 *
 * @example
 * ```ts
 * normalizeUsage(message.usage_metadata); // { inputTokens: 1200, cacheReadTokens: 1000, ... }
 * ```
 */
export function normalizeUsage(metadata: Partial<UsageMetadata> | undefined | null): Usage {
  const input = metadata?.input_token_details;
  const output = metadata?.output_token_details;
  const detail = input as Record<string, unknown> | undefined;
  const cacheWrite1h = count(detail?.ephemeral_1h_input_tokens);
  // Anthropic reports 5m and 1h writes apart; `cache_creation` is their sum when both are present.
  const cacheWrite = Math.max(count(input?.cache_creation), cacheWrite1h + count(detail?.ephemeral_5m_input_tokens));
  return {
    inputTokens: count(metadata?.input_tokens),
    cacheReadTokens: count(input?.cache_read),
    cacheWriteTokens: cacheWrite,
    cacheWrite1hTokens: cacheWrite1h,
    inputAudioTokens: count(input?.audio),
    outputTokens: count(metadata?.output_tokens),
    reasoningTokens: count(output?.reasoning),
    outputAudioTokens: count(output?.audio),
  };
}
