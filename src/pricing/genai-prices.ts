import { calcPrice, type ModelInfo, type ModelPrice as GenaiModelPrice, type Provider } from "@pydantic/genai-prices";
import { type CompiledPrice, compilePrice, type ModelPrice, type Rate } from "./model-price.js";
import { clearProviderUrlCache } from "./providers.js";
import { reviewedRates } from "./reviewed-rates.js";

/** The genai-prices release whose bundled data prices calls; pinned exactly in package.json. */
export const GENAI_PRICES_VERSION = "0.1.8";

/** Where genai-prices' prices come from: its bundled data, or data refreshed at run time (`refreshPrices`). */
export type GenaiPriceSource = `genai-prices@${string}`;

let source: GenaiPriceSource = `genai-prices@${GENAI_PRICES_VERSION}`;
let beforeLookup: (() => void) | undefined;

/** @internal The price data in use: the bundled release, or `genai-prices@0.1.8+data-<version>` once refreshed. */
export function genaiPriceSource(): GenaiPriceSource {
  return source;
}

/** @internal Records that genai-prices' data was replaced, and drops everything resolved from the old data. */
export function genaiPriceDataChanged(version: string): void {
  source = `genai-prices@${GENAI_PRICES_VERSION}+data-${version}`;
  clearGenaiPriceCache();
  clearProviderUrlCache();
}

/** @internal Runs `hook` before every lookup (a refresher checks its data's age there); `undefined` removes it. */
export function setBeforeGenaiLookup(hook: (() => void) | undefined): void {
  beforeLookup = hook;
}

/** @internal A model and provider as genai-prices knows them, with the price in force at a date. */
export interface GenaiPrice {
  model: string;
  provider: string;
  price: CompiledPrice;
}

type Resolution =
  // `fixed`: the model's one price, found once (a date-dependent model's is picked per call).
  | { model: ModelInfo; provider: Provider; fixed: GenaiPrice | null }
  | null;

// Matching a model name against genai-prices' data scans hundreds of match rules: do it once per name.
const resolutions = new Map<string, Resolution>();
// Date-dependent prices (o3 before and after a price cut) are picked per call; compile each branch once.
const compiled = new WeakMap<GenaiModelPrice, CompiledPrice | null>();

/** @internal Forgets resolved names, after the price data has been replaced (see `updatePrices`). */
export function clearGenaiPriceCache(): void {
  resolutions.clear();
}

/**
 * @internal Looks a model up in genai-prices' bundled data; `undefined` when it has no per-token price.
 * `providerId` is a genai-prices provider id ("openai", "anthropic", "google", …); without it the
 * provider is inferred from the model name.
 */
export function lookupGenaiPrice(model: string, providerId: string | undefined, at: Date): GenaiPrice | undefined {
  beforeLookup?.();
  const key = `${providerId ?? ""}\u0000${model}`;
  let resolution = resolutions.get(key);
  if (resolution === undefined) {
    resolution = resolve(model, providerId);
    resolutions.set(key, resolution);
  }
  if (resolution === null) return undefined;
  if (resolution.fixed) return resolution.fixed;
  const price = priceAt(resolution.model, resolution.provider, at);
  return price ? { model: resolution.model.id, provider: resolution.provider.id, price } : undefined;
}

function resolve(model: string, providerId: string | undefined): Resolution {
  const found = calcPrice({}, model, providerId ? { providerId } : {});
  if (!found) return null;
  if (Array.isArray(found.model.prices)) return { model: found.model, provider: found.provider, fixed: null };
  const reviewed = reviewedRates(found.provider.id, found.model.id, model);
  const price = reviewed ? compileWith(found.model_price, reviewed) : compileOnce(found.model_price);
  if (price === null) return null;
  return { model: found.model, provider: found.provider, fixed: { model: found.model.id, provider: found.provider.id, price } };
}

function priceAt(model: ModelInfo, provider: Provider, at: Date): CompiledPrice | null {
  // A provider holding only this model keeps genai-prices' own constraint logic without re-matching the name.
  const found = calcPrice({}, model.id, { provider: { ...provider, models: [model] }, timestamp: at });
  return found ? compileOnce(found.model_price) : null;
}

function compileOnce(raw: GenaiModelPrice): CompiledPrice | null {
  let price = compiled.get(raw);
  if (price === undefined) {
    const converted = fromGenai(raw);
    price = converted ? compilePrice(converted) : null;
    compiled.set(raw, price);
  }
  return price;
}

const KEYS: ReadonlyArray<readonly [keyof ModelPrice, string]> = [
  ["webSearchPerThousand", "web_searches_kcount"],
  ["input", "input_mtok"],
  ["output", "output_mtok"],
  ["cacheRead", "cache_read_mtok"],
  ["cacheWrite", "cache_write_mtok"],
  ["cacheWrite1h", "cache_write_1h_mtok"],
  ["cacheReadAudio", "cache_audio_read_mtok"],
  ["inputAudio", "input_audio_mtok"],
  ["outputAudio", "output_audio_mtok"],
  ["outputReasoning", "output_reasoning_mtok"],
];

/** A price with reviewed rates added where genai-prices has none (see `reviewed-rates.ts`). */
function compileWith(raw: GenaiModelPrice, reviewed: Partial<ModelPrice>): CompiledPrice | null {
  const converted = fromGenai(raw);
  return converted ? compilePrice({ ...reviewed, ...converted }) : null;
}

/** @internal genai-prices' `*_mtok` keys to ours; `null` when the model has no input or output token price. */
export function fromGenai(raw: GenaiModelPrice): ModelPrice | null {
  const price: Partial<Record<keyof ModelPrice, Rate>> = {};
  for (const [ours, theirs] of KEYS) {
    const value = raw[theirs];
    if (value !== undefined) price[ours] = typeof value === "number" ? value : { base: value.base, tiers: value.tiers };
  }
  return price.input === undefined || price.output === undefined ? null : (price as ModelPrice);
}
