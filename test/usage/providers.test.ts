/**
 * The per-provider usage contracts (src/usage/providers.ts): what is inside what, for each provider
 * package, and how a stream's usage adds up. Shapes are those @langchain/anthropic 1.5.11,
 * @langchain/google-genai 2.3.2 and @langchain/openai 1.6.0 produce (see test/providers/* for the same
 * shapes arriving through the real packages).
 */
import type { UsageMetadata } from "@langchain/core/messages";
import { describe, expect, it } from "vitest";
import { normalizeUsage, type Usage } from "../../src/index.js";
import { usageContract } from "../../src/usage/providers.js";

const ZERO: Usage = {
  inputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  cacheWrite1hTokens: 0,
  inputAudioTokens: 0,
  outputTokens: 0,
  reasoningTokens: 0,
  outputAudioTokens: 0,
};
const loose = (value: unknown) => value as Partial<UsageMetadata>;

describe("which contract a provider follows", () => {
  it.each([
    ["anthropic", "anthropic"],
    ["google_genai", "google"],
    ["google-genai", "google"],
    ["google", "google"],
    ["openai", "openai"],
    ["azure", "openai"],
    ["groq", "openai"],
    ["deepseek", "openai"],
    ["together", "openai"],
    ["openrouter", "openai"],
    ["mistral", "openai"],
    [undefined, "openai"],
  ])("%s → %s", (provider, family) => {
    expect(usageContract(provider).family).toBe(family);
  });
});

describe("openai (and OpenAI-compatible endpoints)", () => {
  it("input includes cache reads and audio, output includes reasoning and audio", () => {
    const usage = { input_tokens: 1000, output_tokens: 500, total_tokens: 1500, input_token_details: { cache_read: 200, audio: 10 }, output_token_details: { reasoning: 300 } };
    expect(normalizeUsage(usage, "openai")).toEqual({ ...ZERO, inputTokens: 1000, cacheReadTokens: 200, inputAudioTokens: 10, outputTokens: 500, reasoningTokens: 300 });
  });

  it("DeepSeek's prompt_cache_hit_tokens (raw usage only) become cache reads", () => {
    const lifted = usageContract("deepseek").lift({ input_tokens: 1000, output_tokens: 10, input_token_details: { cache_read: 0 } }, { prompt_cache_hit_tokens: 600, prompt_cache_miss_tokens: 400 });
    expect(normalizeUsage(lifted, "deepseek")).toMatchObject({ inputTokens: 1000, cacheReadTokens: 600 });
  });

  it("a reported cache_read is never overwritten by the raw count", () => {
    const lifted = usageContract("deepseek").lift({ input_tokens: 1000, input_token_details: { cache_read: 500 } }, { prompt_cache_hit_tokens: 600 });
    expect(lifted.input_token_details?.cache_read).toBe(500);
  });

  it("a stream's usage (one chunk) is summed", () => {
    const merged = usageContract("openai").merge({ input_tokens: 0, output_tokens: 0, total_tokens: 0 }, { input_tokens: 10, output_tokens: 5, total_tokens: 15 });
    expect(merged).toMatchObject({ input_tokens: 10, output_tokens: 5, total_tokens: 15 });
  });
});

describe("anthropic", () => {
  // LangChain's usage_metadata: input_tokens = 1000 uncached + 2000 read + 7000 written.
  const metadata = { input_tokens: 10_000, output_tokens: 500, total_tokens: 10_500, input_token_details: { cache_read: 2000, cache_creation: 7000 } };
  const raw = { input_tokens: 1000, cache_read_input_tokens: 2000, cache_creation_input_tokens: 7000, cache_creation: { ephemeral_5m_input_tokens: 3000, ephemeral_1h_input_tokens: 4000 } };

  it("input includes cache reads and writes; the 1-hour part of the writes comes from the raw usage", () => {
    const contract = usageContract("anthropic");
    expect(contract.normalize(contract.lift(metadata, raw))).toEqual({
      ...ZERO,
      inputTokens: 10_000,
      cacheReadTokens: 2000,
      cacheWriteTokens: 7000,
      cacheWrite1hTokens: 4000,
      outputTokens: 500,
    });
  });

  it("without the raw split, every write counts as a 5-minute write", () => {
    expect(normalizeUsage(metadata, "anthropic")).toMatchObject({ cacheWriteTokens: 7000, cacheWrite1hTokens: 0 });
  });

  it("a stream: input from message_start, output is message_delta's cumulative count (not + message_start's 1)", () => {
    const contract = usageContract("anthropic");
    const start = { input_tokens: 10_000, output_tokens: 1, total_tokens: 10_001, input_token_details: { cache_read: 2000, cache_creation: 7000 } };
    const delta = { input_tokens: 0, output_tokens: 500, total_tokens: 500 };
    expect(contract.merge(contract.merge(undefined, start), delta)).toEqual({
      input_tokens: 10_000,
      output_tokens: 500,
      total_tokens: 10_500,
      input_token_details: { cache_read: 2000, cache_creation: 7000 },
    });
  });

  it("event snapshots: message_start's output count is taken back out", () => {
    const first = { input_tokens: 100, output_tokens: 1, total_tokens: 101 };
    const last = { input_tokens: 100, output_tokens: 51, total_tokens: 151 }; // LangChain: 1 + 50
    expect(usageContract("anthropic").fromSnapshots(first, last)).toMatchObject({ output_tokens: 50, total_tokens: 150 });
  });
});

describe("google (ChatGoogleGenerativeAI)", () => {
  it("thinking tokens, missing from output_tokens, are the gap to total_tokens, billed as reasoning output", () => {
    // promptTokenCount 1000 (400 cached), candidatesTokenCount 200, thoughtsTokenCount 300, totalTokenCount 1500
    const usage = { input_tokens: 1000, output_tokens: 200, total_tokens: 1500, input_token_details: { cache_read: 400 } };
    expect(normalizeUsage(usage, "google_genai")).toEqual({ ...ZERO, inputTokens: 1000, cacheReadTokens: 400, outputTokens: 500, reasoningTokens: 300 });
  });

  it("no gap, no reasoning (a model that doesn't think)", () => {
    expect(normalizeUsage({ input_tokens: 10, output_tokens: 5, total_tokens: 15 }, "google_genai")).toEqual({ ...ZERO, inputTokens: 10, outputTokens: 5 });
  });

  it("the same usage under OpenAI's contract would drop the thoughts", () => {
    expect(normalizeUsage({ input_tokens: 1000, output_tokens: 200, total_tokens: 1500 }).outputTokens).toBe(200);
  });

  it("a stream: counts are deltas (summed), cache_read repeats on every chunk (largest kept)", () => {
    const contract = usageContract("google_genai");
    const chunks = [
      { input_tokens: 1000, output_tokens: 1, total_tokens: 1301, input_token_details: { cache_read: 400 } },
      { input_tokens: 0, output_tokens: 1, total_tokens: 1, input_token_details: { cache_read: 400 } },
      { input_tokens: 0, output_tokens: 198, total_tokens: 198, input_token_details: { cache_read: 400 } },
    ];
    const merged = chunks.reduce<Partial<UsageMetadata> | undefined>((sofar, next) => contract.merge(sofar, next), undefined);
    expect(merged).toMatchObject({ input_tokens: 1000, output_tokens: 200, total_tokens: 1500, input_token_details: { cache_read: 400 } });
    expect(contract.normalize(merged ?? {})).toMatchObject({ outputTokens: 500, reasoningTokens: 300, cacheReadTokens: 400 });
  });

  it("an inflated cache_read (LangChain's own stream aggregation) is capped at the input", () => {
    expect(normalizeUsage(loose({ input_tokens: 1000, output_tokens: 5, total_tokens: 1005, input_token_details: { cache_read: 1600 } }), "google").cacheReadTokens).toBe(1000);
  });
});
