/**
 * Money is integer nano-USD (1e-9 USD) inside the library, so sums never drift; the API shows USD.
 * Rates are held as integer femto-USD (1e-15 USD) per token, so `tokens × rate` is exact in BigInt
 * and a call's cost is rounded once, from femto to nano.
 */

/** Integer count of 1e-9 USD. */
export type NanoUsd = number;

const NANO_PER_USD = 1_000_000_000;
const FEMTO_PER_NANO = 1_000_000n;

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
 * Rounds femto-USD amounts that belong to one call to nano-USD, once: the total is rounded half up,
 * and the parts are apportioned by largest remainder so they sum exactly to the rounded total.
 */
export function roundCall<K extends string>(partsFemto: ReadonlyArray<readonly [K, bigint]>): {
  totalNano: NanoUsd;
  partsNano: Array<[K, NanoUsd]>;
} {
  let totalFemto = 0n;
  for (const [, femto] of partsFemto) totalFemto += femto;
  const totalNano = (totalFemto + FEMTO_PER_NANO / 2n) / FEMTO_PER_NANO;

  const floors = partsFemto.map(([key, femto]) => ({
    key,
    nano: femto / FEMTO_PER_NANO,
    remainder: femto % FEMTO_PER_NANO,
  }));
  let leftover = totalNano - floors.reduce((sum, part) => sum + part.nano, 0n);
  // Ties go to the earlier part, so the result is deterministic.
  const byRemainder = [...floors].sort((a, b) => (b.remainder > a.remainder ? 1 : b.remainder < a.remainder ? -1 : 0));
  for (const part of byRemainder) {
    if (leftover <= 0n) break;
    part.nano += 1n;
    leftover -= 1n;
  }
  return {
    totalNano: Number(totalNano),
    partsNano: floors.map((part) => [part.key, Number(part.nano)]),
  };
}
