import { perMtokToFemtoPerToken } from "./money.js";

/** A price in USD per million tokens, or a base price with long-context tiers keyed by total input tokens. */
export type Rate = number | { base: number; tiers: ReadonlyArray<{ start: number; price: number }> };

/**
 * A model's token prices in USD per million tokens. Only `input` and `output` are required; a usage kind
 * without its own price is charged at its parent's (cache reads and input audio at `input`, reasoning and
 * output audio at `output`, one-hour cache writes at `cacheWrite`).
 */
export interface ModelPrice {
  input: Rate;
  output: Rate;
  cacheRead?: Rate;
  cacheWrite?: Rate;
  cacheWrite1h?: Rate;
  /** Cached audio input (Gemini); falls back to `cacheRead`. */
  cacheReadAudio?: Rate;
  inputAudio?: Rate;
  outputAudio?: Rate;
  outputReasoning?: Rate;
  /** USD per 1,000 web searches a server tool runs (genai-prices' `web_searches_kcount`). Default 0. */
  webSearchPerThousand?: number;
}

/** @internal A rate in femto-USD per token, tiers sorted by start. */
export interface CompiledRate {
  base: bigint;
  tiers: ReadonlyArray<{ start: number; price: bigint }>;
}

/** A kind of token a model's price has no rate of its own for (see `Cost.missingRates`). */
export type MissingRate = "inputAudio" | "outputAudio";

/** @internal How messages name a missing rate: "audio input" for `inputAudio`. */
export const missingRateName = (kind: MissingRate): string => (kind === "inputAudio" ? "audio input" : "audio output");

/** @internal The kinds of token a compiled price has a rate for. */
export type RateKind = Exclude<keyof CompiledPrice, "audioRates" | "webSearch">;

/** @internal A `ModelPrice` with every kind resolved (falling back to its parent) and in femto-USD per token. */
export interface CompiledPrice {
  input: CompiledRate;
  output: CompiledRate;
  cacheRead: CompiledRate;
  cacheWrite: CompiledRate;
  cacheWrite1h: CompiledRate;
  cacheReadAudio: CompiledRate;
  inputAudio: CompiledRate;
  outputAudio: CompiledRate;
  outputReasoning: CompiledRate;
  /** Femto-USD per web search. */
  webSearch: bigint;
  /** Whether the price has its own audio rates: audio without one is charged at the text rate, as an estimate. */
  audioRates: { readonly input: boolean; readonly output: boolean };
}

function compileRate(rate: Rate): CompiledRate {
  if (typeof rate === "number") return { base: perMtokToFemtoPerToken(rate), tiers: [] };
  return {
    base: perMtokToFemtoPerToken(rate.base),
    tiers: [...rate.tiers]
      .sort((a, b) => a.start - b.start)
      .map((tier) => ({ start: tier.start, price: perMtokToFemtoPerToken(tier.price) })),
  };
}

/** @internal Resolves fallbacks once, so pricing a call is only multiplications. */
export function compilePrice(price: ModelPrice): CompiledPrice {
  const input = compileRate(price.input);
  const output = compileRate(price.output);
  const cacheWrite = price.cacheWrite === undefined ? input : compileRate(price.cacheWrite);
  const cacheRead = price.cacheRead === undefined ? input : compileRate(price.cacheRead);
  return {
    input,
    output,
    cacheRead,
    cacheReadAudio: price.cacheReadAudio === undefined ? cacheRead : compileRate(price.cacheReadAudio),
    cacheWrite,
    cacheWrite1h: price.cacheWrite1h === undefined ? cacheWrite : compileRate(price.cacheWrite1h),
    inputAudio: price.inputAudio === undefined ? input : compileRate(price.inputAudio),
    outputAudio: price.outputAudio === undefined ? output : compileRate(price.outputAudio),
    outputReasoning: price.outputReasoning === undefined ? output : compileRate(price.outputReasoning),
    audioRates: { input: price.inputAudio !== undefined, output: price.outputAudio !== undefined },
    // USD per 1,000 searches is USD per 1M "tokens" × 1,000.
    webSearch: perMtokToFemtoPerToken((price.webSearchPerThousand ?? 0) * 1000),
  };
}

/**
 * @internal The rate in force for a call whose total input (cache included) is `inputTokens`: the
 * highest tier whose start it passes applies to the whole call, as genai-prices does.
 */
export function rateAt(rate: CompiledRate, inputTokens: number): bigint {
  let price = rate.base;
  for (const tier of rate.tiers) if (inputTokens > tier.start) price = tier.price;
  return price;
}

/** @internal The highest femto-USD per token a rate can charge, whatever the call's size. */
export function maxRate(rate: CompiledRate): bigint {
  let max = rate.base;
  for (const tier of rate.tiers) if (tier.price > max) max = tier.price;
  return max;
}
