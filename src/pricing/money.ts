/**
 * Money is integer nano-USD (1e-9 USD) inside the library, so sums never drift; the API shows USD.
 * Rates are held as integer femto-USD (1e-15 USD) per token, so `tokens × rate` is exact (see `Femto`)
 * and a call's cost is rounded once, from femto to nano.
 */

/** Integer count of 1e-9 USD. */
export type NanoUsd = number;

const NANO_PER_USD = 1_000_000_000;
/** @internal Femto-USD in a nano-dollar. */
export const FEMTO_PER_NANO = 1_000_000;
/** @internal The same, for BigInt arithmetic. */
export const FEMTO_PER_NANO_BIG = 1_000_000n;

/** Converts nano-USD to a USD number for display and the public API. */
export function nanoToUsd(nano: NanoUsd): number {
  return nano / NANO_PER_USD;
}

/** Converts a USD amount (e.g. a limit) to nano-USD, rounding to the nearest nano-dollar. */
export function usdToNano(usd: number): NanoUsd {
  return Math.round(usd * NANO_PER_USD);
}

/**
 * Converts a price in USD per million tokens to femto-USD per token.
 * `usdPerMtok / 1e6` USD is `usdPerMtok × 1e9` femto-USD; prices with up to nine decimals are exact.
 */
export function perMtokToFemtoPerToken(usdPerMtok: number): bigint {
  return BigInt(Math.round(usdPerMtok * 1e9));
}

/**
 * Femto-USD, exact: a number while the amount is a safe integer (every real call), a BigInt beyond. Pricing a
 * call in floating point is several times cheaper than in BigInt, and exact as long as each product and sum
 * stays below 2^53 (a product or sum past it comes out unsafe, so the check can't be fooled).
 */
export type Femto = number | bigint;

/** `tokens × rate`, exact. */
export function femtoTimes(tokens: number, femtoPerToken: bigint): Femto {
  const product = tokens * Number(femtoPerToken);
  return Number.isSafeInteger(product) ? product : BigInt(tokens) * femtoPerToken;
}

/** `a + b`, exact. */
export function femtoPlus(a: Femto, b: Femto): Femto {
  if (typeof a === "number" && typeof b === "number" && Number.isSafeInteger(a + b)) return a + b;
  return BigInt(a) + BigInt(b);
}

/** A non-negative femto amount as whole nano-USD and the femto left over (below a nano-dollar). */
function splitFemto(femto: Femto): [nano: NanoUsd, remainder: number] {
  if (typeof femto === "bigint") return [Number(femto / FEMTO_PER_NANO_BIG), Number(femto % FEMTO_PER_NANO_BIG)];
  const remainder = femto % FEMTO_PER_NANO;
  return [(femto - remainder) / FEMTO_PER_NANO, remainder];
}

/**
 * Rounds non-negative femto-USD amounts that belong to one call to nano-USD, once: the total is rounded half
 * up, and the parts are apportioned by largest remainder so they sum exactly to the rounded total.
 */
export function roundCall<K extends string>(partsFemto: ReadonlyArray<readonly [K, Femto]>): {
  totalNano: NanoUsd;
  partsNano: Array<[K, NanoUsd]>;
} {
  const partsNano: Array<[K, NanoUsd]> = [];
  const remainders: number[] = [];
  let floorsNano = 0;
  let remainderFemto = 0;
  for (const [key, femto] of partsFemto) {
    const [nano, remainder] = splitFemto(femto);
    partsNano.push([key, nano]);
    remainders.push(remainder);
    floorsNano += nano;
    remainderFemto += remainder;
  }
  // Rounding the total half up adds these nano-dollars to the parts' floors (at most one per part): each
  // goes to the largest remainder left, ties to the earlier part, so the result is deterministic.
  let leftover = Math.floor((remainderFemto + FEMTO_PER_NANO / 2) / FEMTO_PER_NANO);
  const totalNano = floorsNano + leftover;
  for (; leftover > 0; leftover--) {
    let largest = 0;
    for (let i = 1; i < remainders.length; i++) if ((remainders[i] ?? -1) > (remainders[largest] ?? -1)) largest = i;
    const part = partsNano[largest];
    if (part) part[1] += 1;
    remainders[largest] = -1;
  }
  return { totalNano, partsNano };
}
