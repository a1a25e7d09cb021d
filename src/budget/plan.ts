import type { NanoUsd } from "../pricing/money.js";
import { type CompiledPrice, type CompiledRate, maxRate, rateAt } from "../pricing/model-price.js";

/** How far the local input count is trusted: it is raised by this fraction and this many tokens. */
export const INPUT_SAFETY_MARGIN = { fraction: 0.1, tokens: 32 } as const;
/** A call that can't afford this many output tokens (per choice) is refused rather than sent. */
export const MIN_USEFUL_OUTPUT_TOKENS = 16;

const FEMTO_PER_NANO = 1_000_000n;

/** @internal The input token count a reservation assumes: the local count raised by the safety margin. */
export function withInputMargin(countedTokens: number): number {
  return Math.ceil(countedTokens * (1 + INPUT_SAFETY_MARGIN.fraction)) + INPUT_SAFETY_MARGIN.tokens;
}

/** The kinds a token can be billed as: input side (a cache write can cost more than plain input), output side. */
const INPUT_KINDS = ["input", "cacheWrite", "cacheWrite1h", "inputAudio"] as const;
const OUTPUT_KINDS = ["output", "outputReasoning", "outputAudio"] as const;

function dearest(price: CompiledPrice, kinds: ReadonlyArray<keyof CompiledPrice>, rateOf: (rate: CompiledRate) => bigint): bigint {
  let max = 0n;
  for (const kind of kinds) {
    const rate = rateOf(price[kind]);
    if (rate > max) max = rate;
  }
  return max;
}

/**
 * @internal The most a call can cost, per token, at the tier its input puts it in: input at the dearest
 * input kind (a cache write can cost more than plain input), output at the dearest output kind.
 */
export function worstRates(price: CompiledPrice, inputTokens: number): Rates {
  const atTier = (rate: CompiledRate) => rateAt(rate, inputTokens);
  return { input: dearest(price, INPUT_KINDS, atTier), output: dearest(price, OUTPUT_KINDS, atTier) };
}

/**
 * @internal The dearest rates a call can meet whatever its size (every tier counted): a bound that needs no
 * token count, for watching a stream cheaply.
 */
export function boundRates(price: CompiledPrice): Rates {
  return { input: dearest(price, INPUT_KINDS, maxRate), output: dearest(price, OUTPUT_KINDS, maxRate) };
}

/** @internal Femto-USD per token, on the input side and on the output side. */
export interface Rates {
  input: bigint;
  output: bigint;
}

const ceilNano = (femto: bigint): NanoUsd => Number((femto + FEMTO_PER_NANO - 1n) / FEMTO_PER_NANO);

/** @internal The worst-case cost of a call: `inputTokens` in, and `choices` outputs of `maxOutputTokens` each. */
export function worstCaseNano(price: CompiledPrice, inputTokens: number, maxOutputTokens: number, choices = 1): NanoUsd {
  const rates = worstRates(price, inputTokens);
  return ceilNano(BigInt(inputTokens) * rates.input + BigInt(maxOutputTokens * choices) * rates.output);
}

/**
 * @internal The most output tokens per choice that `availableNano` pays for after the input, or 0 when it
 * can't even pay for the input.
 */
export function affordableOutputTokens(price: CompiledPrice, inputTokens: number, availableNano: NanoUsd, choices = 1): number {
  const rates = worstRates(price, inputTokens);
  const left = BigInt(Math.floor(availableNano)) * FEMTO_PER_NANO - BigInt(inputTokens) * rates.input;
  if (left <= 0n) return 0;
  if (rates.output === 0n) return Number.MAX_SAFE_INTEGER;
  return Number(left / (rates.output * BigInt(choices)));
}
