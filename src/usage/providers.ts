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
 *   lifted into `cache_read`. xAI counts `reasoning_tokens` outside `completion_tokens` (its `total_tokens` is
 *   prompt + completion + reasoning, https://docs.x.ai/docs/guides/reasoning): where the total says so, the
 *   reasoning is added to the output. A stream reports usage once, on its last chunk.
 * - **anthropic** (https://docs.anthropic.com/en/api/messages, "usage"): the API's `input_tokens` exclude
 *   `cache_read_input_tokens` and `cache_creation_input_tokens`; LangChain adds them back, so `input_tokens`
 *   include `cache_read` and `cache_creation`. The 5-minute / 1-hour split of the writes is only in the raw
 *   usage (`cache_creation.ephemeral_{5m,1h}_input_tokens`): lifted into `input_token_details`. `output_tokens`
 *   include thinking. Streamed, `message_start` carries the first request's input, and `message_delta` the
 *   message's cumulative usage: with server tools (web search, code execution) the API runs several requests
 *   in one message, and only `message_delta`'s `input_tokens` (and cache counts) cover them all. LangChain keeps
 *   `message_start`'s, so the raw stream events are read (`rawFrom`) and the latest input and cache counts
 *   win (`lift`). The output count on `message_delta` is cumulative too, while LangChain also adds
 *   `message_start`'s own `output_tokens` (1–2) to it: the output is the largest count seen, not the sum.
 * - **google** (ChatGoogleGenerativeAI; https://ai.google.dev/api/generate-content#UsageMetadata):
 *   `promptTokenCount` includes `cachedContentTokenCount`; `toolUsePromptTokenCount` (the prompt of built-in
 *   tools such as Google Search) is billed as input; `candidatesTokenCount` excludes `thoughtsTokenCount`,
 *   billed as output; `promptTokensDetails` / `candidatesTokensDetails` break counts down by modality (AUDIO
 *   input has its own rate). LangChain's `usage_metadata` keeps only prompt, candidates and total, and its
 *   stream drops chunks with no content (a thinking model's first ones) with their usage. So the SDK's raw
 *   `usageMetadata` is read (`rawFrom`; streamed, each one is cumulative) and the usage is built from it
 *   (`lift`). Without it (a response that never came whole), `total − input − output` is priced as reasoning
 *   output, never under. Streamed, LangChain's counts arrive as deltas but `cache_read` repeats on every
 *   chunk: details are the largest seen, not the sum.
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
  /** What one raw provider response or stream event says of the usage (merged over earlier ones), if anything. */
  rawFrom(data: unknown): Readonly<Record<string, unknown>> | undefined;
}

const count = (value: unknown): number =>
  typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.round(value) : 0;

type Details = Record<string, unknown>;

const isCount = (value: unknown): value is number => typeof value === "number" && Number.isSafeInteger(value) && value >= 0;

/** The shared reading: input includes cache and audio, output includes reasoning and audio. */
function readUsage(metadata: Partial<UsageMetadata>): Usage {
  const input = (metadata.input_token_details ?? {}) as Details;
  const output = (metadata.output_token_details ?? {}) as Details;
  const cacheWrite1h = count(input.ephemeral_1h_input_tokens);
  // The 5m and 1h parts are reported apart; `cache_creation` is their sum when both are present.
  const cacheWrite = Math.max(count(input.cache_creation), cacheWrite1h + count(input.ephemeral_5m_input_tokens));
  const usage: Usage = {
    inputTokens: count(metadata.input_tokens),
    cacheReadTokens: count(input.cache_read),
    cacheWriteTokens: cacheWrite,
    cacheWrite1hTokens: cacheWrite1h,
    inputAudioTokens: count(input.audio),
    outputTokens: count(metadata.output_tokens),
    reasoningTokens: count(output.reasoning),
    outputAudioTokens: count(output.audio),
  };
  // The rarer kinds only where they occur, so a usage record (and a metering log line) keeps its usual shape.
  const cachedAudio = count(input.cache_read_audio);
  const searches = count((metadata as Details).web_search_requests);
  if (cachedAudio) usage.cacheReadAudioTokens = cachedAudio;
  if (searches) usage.webSearchRequests = searches;
  return usage;
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
    let lifted = metadata;
    // xAI: reasoning outside the completion, as the total shows (OpenAI's total has it inside).
    const reasoning = metadata.output_token_details?.reasoning;
    const { input_tokens: input, output_tokens: output, total_tokens: total } = metadata;
    if (isCount(reasoning) && reasoning > 0 && isCount(input) && isCount(output) && total === input + output + reasoning) {
      lifted = { ...lifted, output_tokens: output + reasoning };
    }
    // DeepSeek: cache hits are `prompt_cache_hit_tokens`, with or without `prompt_tokens_details`.
    const hits = count(raw?.prompt_cache_hit_tokens);
    if (!hits || count(lifted.input_token_details?.cache_read)) return lifted;
    return { ...lifted, input_token_details: { ...lifted.input_token_details, cache_read: hits } };
  },
  merge: (sofar, next) => (sofar ? combine(sofar, next, { input: sum, output: sum, total: sum, details: sum }) : next),
  fromSnapshots: (_first, last) => last,
  rawFrom: () => undefined, // the message keeps the whole usage
};

const anthropic: UsageContract = {
  family: "anthropic",
  normalize: readUsage,
  lift(metadata, raw) {
    if (!raw) return metadata;
    let lifted = metadata;
    // The API's own counts, the latest it sent (message_delta's cover every server-tool iteration).
    if (isCount(raw.input_tokens)) {
      const cacheRead = isCount(raw.cache_read_input_tokens) ? raw.cache_read_input_tokens : count(metadata.input_token_details?.cache_read);
      const cacheWrite = isCount(raw.cache_creation_input_tokens) ? raw.cache_creation_input_tokens : count(metadata.input_token_details?.cache_creation);
      const input = raw.input_tokens + cacheRead + cacheWrite;
      lifted = {
        ...lifted,
        input_tokens: input,
        total_tokens: input + count(lifted.output_tokens),
        input_token_details: { ...lifted.input_token_details, cache_read: cacheRead, cache_creation: cacheWrite },
      };
    }
    // Web searches, billed per search (https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/web-search-tool).
    const searches = (raw.server_tool_use as Details | undefined)?.web_search_requests;
    if (isCount(searches) && searches > 0) lifted = { ...lifted, web_search_requests: searches } as Partial<UsageMetadata>;
    const split = raw.cache_creation as Details | undefined;
    if (!split || typeof split !== "object") return lifted;
    return {
      ...lifted,
      input_token_details: {
        ...lifted.input_token_details,
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
  rawFrom(data) {
    // message_start's usage, then message_delta's (cumulative; a count it leaves null keeps the earlier one).
    // Output counts come from LangChain's chunks (see `merge`), so they're left out here.
    const event = data as { type?: unknown; usage?: unknown; message?: { usage?: unknown } } | null;
    const usage = event?.type === "message_start" ? event.message?.usage : event?.type === "message_delta" ? event.usage : undefined;
    if (!usage || typeof usage !== "object") return undefined;
    const { output_tokens: _output, ...rest } = usage as Details;
    return Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== null && value !== undefined));
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
  lift(metadata, raw) {
    // Counts that aren't counts (a proxy's strings) leave LangChain's usage to be checked and priced as it is.
    if (!raw || !isCount(raw.totalTokenCount) || GEMINI_COUNTS.some((key) => raw[key] !== undefined && !isCount(raw[key]))) return metadata;
    const prompt = count(raw.promptTokenCount) + count(raw.toolUsePromptTokenCount);
    const thoughts = count(raw.thoughtsTokenCount);
    const output = count(raw.candidatesTokenCount) + thoughts;
    // Cached audio counts in both the cache and the AUDIO modality: it is read from the cache, at its own rate.
    const cachedAudio = modalityCount(raw.cacheTokensDetails, "AUDIO");
    const audioIn = modalityCount(raw.promptTokensDetails, "AUDIO") + modalityCount(raw.toolUsePromptTokensDetails, "AUDIO") - cachedAudio;
    const audioOut = modalityCount(raw.candidatesTokensDetails, "AUDIO");
    const input: Details = { cache_read: count(raw.cachedContentTokenCount) };
    if (audioIn > 0) input.audio = audioIn;
    if (cachedAudio > 0) input.cache_read_audio = cachedAudio;
    return {
      input_tokens: prompt,
      output_tokens: output,
      total_tokens: prompt + output,
      input_token_details: input as UsageMetadata["input_token_details"],
      output_token_details: { reasoning: thoughts, ...(audioOut ? { audio: audioOut } : {}) },
    };
  },
  merge: (sofar, next) => (sofar ? combine(sofar, next, { input: sum, output: sum, total: sum, details: max }) : next),
  fromSnapshots: (_first, last) => last,
  rawFrom(data) {
    // Each response of a stream carries the usage so far; the last one is the call's.
    const usage = (data as { usageMetadata?: unknown } | null)?.usageMetadata;
    return usage && typeof usage === "object" ? (usage as Details) : undefined;
  },
};

const GEMINI_COUNTS = ["promptTokenCount", "toolUsePromptTokenCount", "thoughtsTokenCount", "candidatesTokenCount", "cachedContentTokenCount"];

/** The token count of one modality in a Gemini `ModalityTokenCount[]` list. */
function modalityCount(details: unknown, modality: string): number {
  if (!Array.isArray(details)) return 0;
  return details.reduce((total: number, entry: { modality?: unknown; tokenCount?: unknown }) => total + (entry?.modality === modality ? count(entry.tokenCount) : 0), 0);
}

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
