import type { ModelPrice } from "./model-price.js";

/**
 * Rates missing from the pinned genai-prices data, reviewed against the provider's published list price, and
 * added only where genai-prices has none (its own rates always win): carried until genai-prices has them.
 * Each entry names its evidence; remove it once a genai-prices release covers the model.
 */
interface ReviewedRates {
  /** genai-prices' provider and model ids. */
  provider: string;
  model: string;
  /** Names (as the request or response gives them) the rates apply to, when they differ by snapshot. */
  names?: RegExp;
  rates: Partial<ModelPrice>;
  evidence: string;
}

const REVIEWED: readonly ReviewedRates[] = [
  {
    provider: "openai",
    model: "gpt-4o-audio-preview",
    names: /^gpt-4o-audio-preview(-2024-12-17|-2025-06-03)?$/,
    rates: { inputAudio: 40, outputAudio: 80 },
    evidence:
      "OpenAI's pricing page (platform.openai.com/docs/pricing, audio tokens): gpt-4o-audio-preview $40 / $80 per 1M " +
      "audio input / output tokens since the 2024-12-17 snapshot (OpenRouter's model card for openai/gpt-4o-audio-preview " +
      "states the same); genai-prices 0.1.8 has its text rates only ($2.50 / $10). The 2024-10-01 snapshot was priced " +
      "higher and is left to the missingRates policy.",
  },
  {
    provider: "openai",
    model: "gpt-4o-mini-audio-preview",
    rates: { inputAudio: 10, outputAudio: 20 },
    evidence:
      "OpenAI's model page for gpt-4o-mini-audio-preview (developers.openai.com/api/docs/models/gpt-4o-mini-audio-preview): " +
      "audio $10 / $20 per 1M input / output tokens; genai-prices 0.1.8 has its text rates only.",
  },
];

/** @internal The rates to add to genai-prices' price of `model` (matched as `name`), if any were reviewed. */
export function reviewedRates(provider: string, model: string, name: string): Partial<ModelPrice> | undefined {
  const found = REVIEWED.find((entry) => entry.provider === provider && entry.model === model && (!entry.names || entry.names.test(name)));
  return found?.rates;
}
