import type { UsageMetadata } from "@langchain/core/messages";
import type { Usage } from "./usage.js";

/**
 * What is inside what, per provider package, as verified against @langchain/anthropic 1.5.11,
 * @langchain/google-genai 2.3.2 and @langchain/openai 1.6.0. Every contract ends in the same `Usage`
 * (input includes cache reads/writes and audio; output includes reasoning and audio).
 *
 * - **openai** (also Azure, Groq, DeepSeek, Together, OpenRouter, Mistral, any endpoint reached through
 *   ChatOpenAI): `input_tokens` = prompt_tokens, which include `cache_read` (cached_tokens), `cache_creation`
 *   (cache_write_tokens, OpenRouter) and `audio`; `output_tokens` = completion_tokens, which include
 *   `reasoning` and `audio`. DeepSeek reports cache hits as `prompt_cache_hit_tokens` in the raw usage only:
 *   lifted into `cache_read`. A stream reports usage once, on its last chunk.
 * - **anthropic**: the API's `input_tokens` exclude cache reads and writes; LangChain adds them back, so
 *   `input_tokens` include `cache_read` and `cache_creation`. The 5-minute / 1-hour split of the writes is
 *   only in the raw usage (`response_metadata.usage.cache_creation.ephemeral_{5m,1h}_input_tokens`): lifted
 *   into `input_token_details`. `output_tokens` include thinking. Streamed, input comes on `message_start`
 *   and the output count on `message_delta` is cumulative, while LangChain also adds `message_start`'s
 *   own `output_tokens` (1–2) to it: the output is the largest count seen, not the sum.
 * - **google** (ChatGoogleGenerativeAI): `input_tokens` = promptTokenCount (includes `cache_read` =
 *   cachedContentTokenCount); `output_tokens` = candidatesTokenCount only: thinking (thoughtsTokenCount) is
 *   dropped, but `total_tokens` = totalTokenCount keeps it. The gap `total − input − output` is priced as
 *   reasoning output. It also holds toolUsePromptTokenCount (built-in tools such as search), which Google
 *   bills as input: LangChain doesn't say which is which, so the gap is priced at the (higher) output rate,
 *   never under. Streamed, counts arrive as deltas but `cache_read` repeats on every chunk: details are the
 *   largest seen, not the sum.
 */
export type UsageFamily = "openai" | "anthropic" | "google";

/** @internal The usage contract of one provider family. */
export interface UsageContract {
  readonly family: UsageFamily;
  /** LangChain's `usage_metadata` to a `Usage`. */
  normalize(metadata: Partial<UsageMetadata>): Usage;
  /** `usage_metadata` with what the package left only in the raw usage (`response_metadata.usage`) lifted in. */
  lift(metadata: Partial<UsageMetadata>, raw: Readonly<Record<string, unknown>> | undefined): Partial<UsageMetadata>;
  /** The usage a stream reported so far, after one more chunk's `usage_metadata`. */
  merge(sofar: Partial<UsageMetadata> | undefined, next: Partial<UsageMetadata>): Partial<UsageMetadata>;
  /** The usage of a `_streamChatModelEvents` stream from its first and last usage snapshots. */
  fromSnapshots(first: Partial<UsageMetadata>, last: Partial<UsageMetadata>): Partial<UsageMetadata>;
}

const count = (value: unknown): number =>
  typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.round(value) : 0;

type Details = Record<string, unknown>;

/** The shared reading: input includes cache and audio, output includes reasoning and audio. */
function readUsage(metadata: Partial<UsageMetadata>): Usage {
  const input = (metadata.input_token_details ?? {}) as Details;
  const output = (metadata.output_token_details ?? {}) as Details;
  const cacheWrite1h = count(input.ephemeral_1h_input_tokens);
  // The 5m and 1h parts are reported apart; `cache_creation` is their sum when both are present.
  const cacheWrite = Math.max(count(input.cache_creation), cacheWrite1h + count(input.ephemeral_5m_input_tokens));
  return {
    inputTokens: count(metadata.input_tokens),
    cacheReadTokens: count(input.cache_read),
    cacheWriteTokens: cacheWrite,
    cacheWrite1hTokens: cacheWrite1h,
    inputAudioTokens: count(input.audio),
    outputTokens: count(metadata.output_tokens),
    reasoningTokens: count(output.reasoning),
    outputAudioTokens: count(output.audio),
  };
}

/** Combines two detail records key by key (sum or max). */
function combineDetails(a: Details | undefined, b: Details | undefined, op: (x: number, y: number) => number): Details | undefined {
  if (!a && !b) return undefined;
  const out: Details = { ...a };
  for (const [key, value] of Object.entries(b ?? {})) out[key] = op(count(out[key]), count(value));
  return out;
}

function combine(
  a: Partial<UsageMetadata>,
  b: Partial<UsageMetadata>,
  ops: { input: Op; output: Op; total: Op; details: Op },
): Partial<UsageMetadata> {
  const merged: Partial<UsageMetadata> = {
    input_tokens: ops.input(count(a.input_tokens), count(b.input_tokens)),
    output_tokens: ops.output(count(a.output_tokens), count(b.output_tokens)),
    total_tokens: ops.total(count(a.total_tokens), count(b.total_tokens)),
  };
  const input = combineDetails(a.input_token_details as Details, b.input_token_details as Details, ops.details);
  const output = combineDetails(a.output_token_details as Details, b.output_token_details as Details, ops.details);
  if (input) merged.input_token_details = input;
  if (output) merged.output_token_details = output;
  return merged;
}

type Op = (x: number, y: number) => number;
const sum: Op = (x, y) => x + y;
const max: Op = (x, y) => Math.max(x, y);

const openai: UsageContract = {
  family: "openai",
  normalize: readUsage,
  lift(metadata, raw) {
    // DeepSeek: cache hits are `prompt_cache_hit_tokens`, with or without `prompt_tokens_details`.
    const hits = count(raw?.prompt_cache_hit_tokens);
    if (!hits || count(metadata.input_token_details?.cache_read)) return metadata;
    return { ...metadata, input_token_details: { ...metadata.input_token_details, cache_read: hits } };
  },
  merge: (sofar, next) => (sofar ? combine(sofar, next, { input: sum, output: sum, total: sum, details: sum }) : next),
  fromSnapshots: (_first, last) => last,
};

const anthropic: UsageContract = {
  family: "anthropic",
  normalize: readUsage,
  lift(metadata, raw) {
    const split = raw?.cache_creation as Details | undefined;
    if (!split || typeof split !== "object") return metadata;
    return {
      ...metadata,
      input_token_details: {
        ...metadata.input_token_details,
        ephemeral_5m_input_tokens: count(split.ephemeral_5m_input_tokens),
        ephemeral_1h_input_tokens: count(split.ephemeral_1h_input_tokens),
      } as UsageMetadata["input_token_details"],
    };
  },
  merge(sofar, next) {
    if (!sofar) return next;
    const merged = combine(sofar, next, { input: sum, output: max, total: sum, details: max });
    merged.total_tokens = count(merged.input_tokens) + count(merged.output_tokens);
    return merged;
  },
  fromSnapshots(first, last) {
    // LangChain's snapshot adds message_start's output count to message_delta's cumulative one.
    if (first === last) return last;
    const output = Math.max(0, count(last.output_tokens) - count(first.output_tokens));
    return { ...last, output_tokens: output, total_tokens: count(last.input_tokens) + output };
  },
};

const google: UsageContract = {
  family: "google",
  normalize(metadata) {
    const usage = readUsage(metadata);
    // Thinking (and built-in tool prompts) are only in the total: bill the gap as reasoning output.
    const gap = count(metadata.total_tokens) - usage.inputTokens - usage.outputTokens;
    if (gap > 0) {
      usage.outputTokens += gap;
      usage.reasoningTokens = Math.min(usage.outputTokens, usage.reasoningTokens + gap);
    }
    usage.cacheReadTokens = Math.min(usage.cacheReadTokens, usage.inputTokens);
    return usage;
  },
  lift: (metadata) => metadata,
  merge: (sofar, next) => (sofar ? combine(sofar, next, { input: sum, output: sum, total: sum, details: max }) : next),
  fromSnapshots: (_first, last) => last,
};

const FAMILIES: Readonly<Record<string, UsageContract>> = {
  anthropic,
  google_genai: google,
  "google-genai": google,
  google,
  gemini: google,
};

/**
 * @internal The usage contract for a provider, by LangChain name (`ls_provider`) or genai-prices id.
 * Unknown and OpenAI-compatible providers follow OpenAI's.
 */
export function usageContract(provider: string | undefined): UsageContract {
  return (provider && FAMILIES[provider.toLowerCase()]) || openai;
}
