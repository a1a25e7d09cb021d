import { FEMTO_PER_NANO_BIG, type NanoUsd } from "../pricing/money.js";
import { type CompiledPrice, type CompiledRate, maxRate, type RateKind, rateAt } from "../pricing/model-price.js";

/**
 * A hard cap's arithmetic, pure: the most a call can cost (its worst case) and the largest answer a budget
 * can pay for. Prices are femto-USD per token (BigInt), so `tokens × rate` is exact; amounts come out in
 * nano-USD, rounded up, never down.
 */

/** How far a local input count is trusted: it is raised by this fraction and this many tokens. */
export const INPUT_SAFETY_MARGIN = { fraction: 0.1, tokens: 32 } as const;
/** A call that can't afford this many output tokens (per choice) is refused rather than sent. */
export const MIN_USEFUL_OUTPUT_TOKENS = 16;
/** When a call sets no max tokens and the model's maximum output is unknown, a reservation assumes this many. */
export const DEFAULT_MAX_OUTPUT_TOKENS = 32_768;

/** What a hard cap decided for a call before it was sent. */
export type CallPlan =
  | { decision: "allowed" | "clamped"; maxTokens: number; reservedNano: NanoUsd; inputTokens: number }
  | { decision: "refused"; maxTokens: 0; reservedNano: 0; inputTokens: number };

/** @internal What a hard cap needs to know about a call to plan it. */
export interface PlanInput {
  price: CompiledPrice;
  /** Input tokens counted locally (or an upper bound on them), before the safety margin. */
  inputTokens: number;
  /** The call's own max-tokens setting, if any. */
  requestedMaxTokens: number | undefined;
  /** The model's maximum output, if known. */
  modelMaxOutputTokens: number | undefined;
  /** `n`: how many outputs the call asks for. */
  choices: number;
  /** What the budget can still commit. */
  availableNano: NanoUsd;
}

/** @internal The input token count a reservation assumes: the local count raised by the safety margin. */
export function withInputMargin(countedTokens: number): number {
  return Math.ceil(countedTokens * (1 + INPUT_SAFETY_MARGIN.fraction)) + INPUT_SAFETY_MARGIN.tokens;
}

/**
 * @internal Plans a call under a hard cap: the worst case is the input (with the safety margin) plus every
 * choice's maximum output at the dearest rates. If the budget can't pay for the input plus a minimum useful
 * output, refuse; if it can't pay for the full maximum, lower the maximum to what it can pay for.
 */
export function planCall(input: PlanInput): CallPlan {
  const inputTokens = withInputMargin(wholeTokens(input.inputTokens));
  const ceiling = wholeTokens(input.requestedMaxTokens ?? input.modelMaxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS);
  const choices = Math.max(1, wholeTokens(input.choices));
  const affordable = affordableOutputTokens(input.price, inputTokens, input.availableNano, choices);
  if (affordable < Math.min(MIN_USEFUL_OUTPUT_TOKENS, ceiling)) {
    return { decision: "refused", maxTokens: 0, reservedNano: 0, inputTokens };
  }
  const maxTokens = Math.min(ceiling, affordable);
  return {
    decision: maxTokens < ceiling ? "clamped" : "allowed",
    maxTokens,
    reservedNano: worstCaseNano(input.price, inputTokens, maxTokens, choices),
    inputTokens,
  };
}

/** The kinds a token can be billed as: input side (a cache write can cost more than plain input), output side. */
const INPUT_KINDS = ["input", "cacheWrite", "cacheWrite1h", "inputAudio"] as const;
const OUTPUT_KINDS = ["output", "outputReasoning", "outputAudio"] as const;

/** @internal Femto-USD per token, on the input side and on the output side. */
export interface Rates {
  input: bigint;
  output: bigint;
}

function dearest(price: CompiledPrice, kinds: ReadonlyArray<RateKind>, rateOf: (rate: CompiledRate) => bigint): bigint {
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
 * token count, for watching a stream cheaply and for charging a call that can't be priced exactly.
 */
export function boundRates(price: CompiledPrice): Rates {
  return { input: dearest(price, INPUT_KINDS, maxRate), output: dearest(price, OUTPUT_KINDS, maxRate) };
}

const ceilNano = (femto: bigint): NanoUsd => Number((femto + FEMTO_PER_NANO_BIG - 1n) / FEMTO_PER_NANO_BIG);

/** @internal What `inputTokens` in and `outputTokens` out cost at `rates`, rounded up to a nano-dollar. */
export function costAtRates(rates: Rates, inputTokens: number, outputTokens: number): NanoUsd {
  return ceilNano(BigInt(wholeTokens(inputTokens)) * rates.input + BigInt(wholeTokens(outputTokens)) * rates.output);
}

/** @internal The worst-case cost of a call: `inputTokens` in, and `choices` outputs of `maxOutputTokens` each. */
export function worstCaseNano(price: CompiledPrice, inputTokens: number, maxOutputTokens: number, choices = 1): NanoUsd {
  return costAtRates(worstRates(price, inputTokens), inputTokens, maxOutputTokens * choices);
}

/**
 * @internal The most output tokens per choice that `availableNano` pays for after the input, or 0 when it
 * can't even pay for the input.
 */
export function affordableOutputTokens(price: CompiledPrice, inputTokens: number, availableNano: NanoUsd, choices = 1): number {
  if (availableNano === Number.POSITIVE_INFINITY) return Number.MAX_SAFE_INTEGER;
  const rates = worstRates(price, inputTokens);
  const left = BigInt(Math.floor(Math.max(0, availableNano))) * FEMTO_PER_NANO_BIG - BigInt(wholeTokens(inputTokens)) * rates.input;
  if (left <= 0n) return 0;
  if (rates.output === 0n) return Number.MAX_SAFE_INTEGER;
  const tokens = left / (rates.output * BigInt(Math.max(1, choices)));
  return tokens > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(tokens);
}

/** Token counts in the arithmetic are whole and non-negative: a fractional max tokens must not reach BigInt. */
function wholeTokens(tokens: number): number {
  return Number.isFinite(tokens) ? Math.max(0, Math.floor(tokens)) : Number.MAX_SAFE_INTEGER;
}
