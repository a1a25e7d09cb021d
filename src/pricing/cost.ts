import type { Usage } from "../usage/usage.js";
import { type Femto, femtoPlus, femtoTimes, type NanoUsd, roundCall } from "./money.js";
import { type CompiledPrice, type RateKind, rateAt } from "./model-price.js";

/**
 * Cost detail keys, named as Langfuse names usage details, so a cost lines up with the usage beside it.
 * `input` and `output` are what is left after the more specific kinds are taken out.
 */
export type CostKey =
  | "input"
  | "input_cache_read"
  | "input_cache_write"
  | "input_audio"
  | "output"
  | "output_reasoning"
  | "output_audio"
  | "web_search";

/** A call's cost in integer nano-USD: details (only the kinds with tokens) sum exactly to the total. */
export interface NanoCost {
  totalNanoUsd: NanoUsd;
  detailsNanoUsd: Partial<Record<CostKey, NanoUsd>>;
}

/**
 * @internal Prices a usage with a compiled price: pure, exact, rounded once. Throws a `RangeError` when the usage
 * contradicts itself (more cached than input tokens), since pricing it would mean guessing.
 */
export function costOfUsage(usage: Usage, price: CompiledPrice): NanoCost {
  const cacheWrite5m = usage.cacheWriteTokens - usage.cacheWrite1hTokens;
  const plainInput = usage.inputTokens - usage.cacheReadTokens - usage.cacheWriteTokens - usage.inputAudioTokens;
  const cacheReadAudio = usage.cacheReadAudioTokens ?? 0;
  const cacheReadText = usage.cacheReadTokens - cacheReadAudio;
  const plainOutput = usage.outputTokens - usage.reasoningTokens - usage.outputAudioTokens;
  if (plainInput < 0 || cacheWrite5m < 0 || cacheReadText < 0) {
    throw new RangeError(
      `Invalid usage: cache reads (${usage.cacheReadTokens}), cache writes (${usage.cacheWriteTokens}) and input audio ` +
        `(${usage.inputAudioTokens}) exceed input tokens (${usage.inputTokens}).`,
    );
  }
  if (plainOutput < 0) {
    throw new RangeError(
      `Invalid usage: reasoning (${usage.reasoningTokens}) and output audio (${usage.outputAudioTokens}) tokens exceed ` +
        `output tokens (${usage.outputTokens}).`,
    );
  }
  const at = usage.inputTokens;
  const charge = (tokens: number, rate: CompiledPrice[RateKind]) => femtoTimes(tokens, rateAt(rate, at));

  const parts: Array<readonly [CostKey, Femto]> = [];
  const add = (key: CostKey, tokens: number, femto: Femto) => {
    if (tokens > 0) parts.push([key, femto]);
  };
  add("input", plainInput, charge(plainInput, price.input));
  add("input_cache_read", usage.cacheReadTokens, femtoPlus(charge(cacheReadText, price.cacheRead), charge(cacheReadAudio, price.cacheReadAudio)));
  add(
    "input_cache_write",
    usage.cacheWriteTokens,
    femtoPlus(charge(cacheWrite5m, price.cacheWrite), charge(usage.cacheWrite1hTokens, price.cacheWrite1h)),
  );
  add("input_audio", usage.inputAudioTokens, charge(usage.inputAudioTokens, price.inputAudio));
  add("output", plainOutput, charge(plainOutput, price.output));
  add("output_reasoning", usage.reasoningTokens, charge(usage.reasoningTokens, price.outputReasoning));
  add("output_audio", usage.outputAudioTokens, charge(usage.outputAudioTokens, price.outputAudio));
  const searches = usage.webSearchRequests ?? 0;
  add("web_search", searches, femtoTimes(searches, price.webSearch));

  const { totalNano, partsNano } = roundCall(parts);
  return { totalNanoUsd: totalNano, detailsNanoUsd: Object.fromEntries(partsNano) };
}
