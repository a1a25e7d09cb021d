import { z } from "zod";
import { PriceOverrideError } from "./errors.js";
import type { ModelPrice } from "./model-price.js";

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
  throw new PriceOverrideError(
    result.error.issues.map((issue) => {
      const path = `prices${issue.path.map(pathPart).join("")}`;
      const hint = issue.code === "unrecognized_keys" ? suggest(issue.keys) : "";
      return `${path}: ${issue.message}${hint}`;
    }),
  );
}

const PRICE_KEYS = Object.keys(modelPrice.shape);

/** "; did you mean `cacheRead`?" for a key one or two edits away from a known one. */
function suggest(keys: readonly string[]): string {
  const hints = keys.flatMap((key) => {
    const ranked = PRICE_KEYS.map((known) => ({ known, distance: editDistance(key, known) })).sort(
      (a, b) => a.distance - b.distance,
    );
    const best = ranked[0];
    return best && best.distance <= 2 ? [`\`${best.known}\``] : [];
  });
  return hints.length ? `; did you mean ${hints.join(", ")}?` : "";
}

/** `.key`, `["my-model"]` or `[0]`, as the path would be written in code. */
function pathPart(part: PropertyKey): string {
  if (typeof part === "number") return `[${part}]`;
  const key = String(part);
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
