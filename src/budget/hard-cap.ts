import type { NanoUsd } from "../pricing/money.js";
import type { CompiledPrice } from "../pricing/model-price.js";
import { affordableOutputTokens, MIN_USEFUL_OUTPUT_TOKENS, withInputMargin, worstCaseNano } from "./worst-case.js";

/** When a call sets no max tokens and the model's maximum output is unknown, a reservation assumes this many. */
export const DEFAULT_MAX_OUTPUT_TOKENS = 32_768;

/** What a hard cap decided for a call before it was sent. */
export type CallPlan =
  | { decision: "allowed" | "clamped"; maxTokens: number; reservedNano: NanoUsd; inputTokens: number }
  | { decision: "refused"; maxTokens: 0; reservedNano: 0; inputTokens: number };

/** @internal What a hard cap needs to know about a call to plan it. */
export interface PlanInput {
  price: CompiledPrice;
  /** Input tokens counted locally, before the safety margin. */
  countedInputTokens: number;
  /** The call's own max-tokens setting, if any. */
  requestedMaxTokens: number | undefined;
  /** The model's maximum output, if known. */
  modelMaxOutputTokens: number | undefined;
  /** `n`: how many outputs the call asks for. */
  choices: number;
  /** What the budget can still commit. */
  availableNano: NanoUsd;
}

/**
 * @internal Plans a call under a hard cap: the worst case is the input (with the safety margin) plus every
 * choice's maximum output at the dearest rates. If the budget can't pay for the input plus a minimum useful
 * output, refuse; if it can't pay for the full maximum, lower the maximum to what it can pay for.
 */
export function planCall(input: PlanInput): CallPlan {
  const inputTokens = withInputMargin(input.countedInputTokens);
  const ceiling = input.requestedMaxTokens ?? input.modelMaxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS;
  const affordable = affordableOutputTokens(input.price, inputTokens, input.availableNano, input.choices);
  if (affordable < Math.min(MIN_USEFUL_OUTPUT_TOKENS, ceiling)) {
    return { decision: "refused", maxTokens: 0, reservedNano: 0, inputTokens };
  }
  const maxTokens = Math.min(ceiling, affordable);
  return {
    decision: maxTokens < ceiling ? "clamped" : "allowed",
    maxTokens,
    reservedNano: worstCaseNano(input.price, inputTokens, maxTokens, input.choices),
    inputTokens,
  };
}
