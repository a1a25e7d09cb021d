import { z } from "zod";
import { PriceOverrideError } from "./errors.js";
import type { ModelPrice } from "./model-price.js";
import { describeIssues } from "../validation.js";

const usdPerMtok = z.number().finite().nonnegative();
const rate = z.union([
  usdPerMtok,
  z.strictObject({
    base: usdPerMtok,
    tiers: z.array(z.strictObject({ start: z.number().int().nonnegative(), price: usdPerMtok })),
  }),
]);
const modelPrice = z.strictObject({
  input: rate,
  output: rate,
  cacheRead: rate.optional(),
  cacheWrite: rate.optional(),
  cacheWrite1h: rate.optional(),
  cacheReadAudio: rate.optional(),
  webSearchPerThousand: z.number().finite().nonnegative().optional(),
  inputAudio: rate.optional(),
  outputAudio: rate.optional(),
  outputReasoning: rate.optional(),
});
const overrides = z.record(z.string().min(1), modelPrice);

/**
 * Prices that add to or replace genai-prices' data, keyed by model name, in USD per 1M tokens. A key
 * also matches dated snapshots of the model (`"my-model"` prices `"my-model-2025-01-01"`).
 */
export type PriceOverrides = Record<string, ModelPrice>;

/** Validates the `prices` option, throwing a `PriceOverrideError` that names each bad path. */
export function parsePriceOverrides(input: unknown): PriceOverrides {
  const result = overrides.safeParse(input);
  if (result.success) return result.data as PriceOverrides;
  throw new PriceOverrideError(describeIssues(result.error.issues, "prices", PRICE_KEYS));
}

const PRICE_KEYS = Object.keys(modelPrice.shape);
