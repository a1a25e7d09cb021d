/**
 * Our exact integer pricing agrees with genai-prices' own floating-point `calcPrice` to within 1 nano-USD
 * (we round once per call; they do not round), for fixed cases and for random usages.
 */
import { calcPrice, type Usage as GenaiUsage } from "@pydantic/genai-prices";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { priceUsage, type Usage } from "../../src/index.js";

interface Row {
  model: string;
  provider?: string;
  at?: string;
  usage: Partial<Usage> & { inputTokens: number; outputTokens: number };
}

const full = (u: Row["usage"]): Usage => ({
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  cacheWrite1hTokens: 0,
  inputAudioTokens: 0,
  reasoningTokens: 0,
  outputAudioTokens: 0,
  ...u,
});

/** Our Usage in genai-prices' usage keys (their totals include the more specific kinds, as ours do). */
function toGenai(u: Usage): GenaiUsage {
  return {
    input_tokens: u.inputTokens,
    cache_read_tokens: u.cacheReadTokens,
    cache_write_tokens: u.cacheWriteTokens,
    cache_write_1h_tokens: u.cacheWrite1hTokens,
    input_audio_tokens: u.inputAudioTokens,
    output_tokens: u.outputTokens,
    output_reasoning_tokens: u.reasoningTokens,
    output_audio_tokens: u.outputAudioTokens,
  };
}

function theirNano(model: string, u: Usage, provider?: string, at?: Date): number {
  const result = calcPrice(toGenai(u), model, { ...(provider ? { providerId: provider } : {}), ...(at ? { timestamp: at } : {}) });
  if (!result) throw new Error(`genai-prices has no price for ${model}`);
  return result.total_price * 1e9;
}

const rows: Row[] = [
  { model: "gpt-4o-mini", usage: { inputTokens: 1000, outputTokens: 500 } },
  { model: "gpt-4o-mini-2024-07-18", usage: { inputTokens: 12_345, cacheReadTokens: 6789, outputTokens: 4321 } },
  { model: "gpt-4o", usage: { inputTokens: 98_765, cacheReadTokens: 43_210, outputTokens: 1234 } },
  { model: "o3-mini", usage: { inputTokens: 7777, cacheReadTokens: 333, outputTokens: 9999, reasoningTokens: 8888 } },
  { model: "o3", at: "2025-05-01T00:00:00Z", usage: { inputTokens: 5555, cacheReadTokens: 1111, outputTokens: 2222, reasoningTokens: 2000 } },
  { model: "o3", at: "2025-08-01T00:00:00Z", usage: { inputTokens: 5555, cacheReadTokens: 1111, outputTokens: 2222, reasoningTokens: 2000 } },
  { model: "gemini-2.5-pro", provider: "google", usage: { inputTokens: 199_999, cacheReadTokens: 50_001, outputTokens: 3333 } },
  { model: "gemini-2.5-pro", provider: "google", usage: { inputTokens: 200_001, cacheReadTokens: 50_001, outputTokens: 3333 } },
  {
    model: "claude-sonnet-4-5",
    usage: { inputTokens: 54_321, cacheReadTokens: 20_000, cacheWriteTokens: 12_345, cacheWrite1hTokens: 2345, outputTokens: 777 },
  },
  {
    model: "claude-sonnet-4-5-20250929",
    usage: { inputTokens: 250_000, cacheReadTokens: 100_000, cacheWriteTokens: 30_000, cacheWrite1hTokens: 10_000, outputTokens: 4567 },
  },
  { model: "claude-3-5-haiku-latest", usage: { inputTokens: 3001, cacheWriteTokens: 1001, cacheWrite1hTokens: 501, outputTokens: 99 } },
  { model: "gpt-audio", usage: { inputTokens: 4321, inputAudioTokens: 1234, outputTokens: 987, outputAudioTokens: 654 } },
  { model: "gemini-2.0-flash", provider: "google", usage: { inputTokens: 10_001, inputAudioTokens: 3333, outputTokens: 123 } },
  { model: "gpt-4.1-nano", usage: { inputTokens: 1, cacheReadTokens: 0, outputTokens: 1 } },
  { model: "gpt-5", usage: { inputTokens: 31_415, cacheReadTokens: 9265, outputTokens: 35_897, reasoningTokens: 32_384 } },
  { model: "gpt-3.5-turbo", usage: { inputTokens: 333, outputTokens: 333 } },
];

describe("cross-check with genai-prices' calcPrice", () => {
  it.each(rows)("$model ($provider, $at)", ({ model, provider, at, usage }) => {
    const u = full(usage);
    const when = at ? new Date(at) : undefined;
    const ours = priceUsage(u, model, { ...(provider ? { provider } : {}), ...(when ? { at: when } : {}) });
    const theirs = theirNano(model, u, provider, when);
    expect(theirs).toBeGreaterThan(0);
    expect(Math.abs(ours.nanoUsd - theirs)).toBeLessThanOrEqual(1);
  });

  it("differs where a reviewed rate fills a gap in genai-prices' data, by exactly that rate", () => {
    // gpt-4o-audio-preview: genai-prices 0.1.8 has text rates only (2.5 / 10); the reviewed audio rates are 40 / 80.
    const u = full({ inputTokens: 4321, inputAudioTokens: 1234, outputTokens: 987, outputAudioTokens: 654 });
    const ours = priceUsage(u, "gpt-4o-audio-preview");
    const gap = 1234 * (40 - 2.5) + 654 * (80 - 10); // USD per 1M tokens × tokens = micro-USD
    expect(ours.nanoUsd - theirNano("gpt-4o-audio-preview", u)).toBe(gap * 1000);
    expect(ours.estimated).toBe(false);
  });

  // Models without a separate audio price (genai-prices needs a joint key for cached audio otherwise).
  const models = ["gpt-4o-mini", "gpt-4o", "o3-mini", "o4-mini", "gpt-4.1", "claude-sonnet-4-5", "claude-3-5-haiku-latest", "gemini-2.5-pro"];
  const usageArb = fc
    .record({
      plain: fc.nat(400_000),
      cacheRead: fc.nat(100_000),
      cacheWrite5m: fc.nat(50_000),
      cacheWrite1h: fc.nat(50_000),
      output: fc.nat(50_000),
      reasoning: fc.nat(50_000),
    })
    .map(
      (r): Usage => ({
        inputTokens: r.plain + r.cacheRead + r.cacheWrite5m + r.cacheWrite1h,
        cacheReadTokens: r.cacheRead,
        cacheWriteTokens: r.cacheWrite5m + r.cacheWrite1h,
        cacheWrite1hTokens: r.cacheWrite1h,
        inputAudioTokens: 0,
        outputTokens: r.output + r.reasoning,
        reasoningTokens: r.reasoning,
        outputAudioTokens: 0,
      }),
    );

  it("agrees within 1 nano-USD on random usages", () => {
    fc.assert(
      fc.property(fc.constantFrom(...models), usageArb, (model, u) => {
        const ours = priceUsage(u, model).nanoUsd;
        expect(Math.abs(ours - theirNano(model, u))).toBeLessThanOrEqual(1);
      }),
      { numRuns: 300 },
    );
  });
});
