import { UnknownModelPriceError, type UnknownPriceContext } from "./errors.js";
import { genaiPriceSource, lookupGenaiPrice } from "./genai-prices.js";
import { type CompiledPrice, compilePrice } from "./model-price.js";
import { parsePriceOverrides, type PriceOverrides } from "./overrides.js";
import { genaiProviderId } from "./providers.js";

/**
 * Where a price came from: the `prices` option, the genai-prices release bundled with the package
 * (`genai-prices@0.1.8`), data refreshed at run time (`genai-prices@0.1.8+data-<version>`, see `refreshPrices`),
 * or, for a model no price covers under `costSource: "reported"`, the endpoint's own report (`"reported"`);
 * `"unpriced"` when that report didn't come either and the call was charged what its run had left.
 */
export type PriceSource = "override" | "reported" | "unpriced" | `genai-prices@${string}`;

/** A dated snapshot suffix: -2025-01-01, -20250101, or -0613. */
const DATED_SNAPSHOT = /-(\d{4}-\d{2}-\d{2}|\d{8}|\d{4})$/;

/** @internal A resolved price for one call. */
export interface PriceQuote {
  /** The model id the price belongs to (the override key, or genai-prices' id). */
  pricedAs: string;
  provider: string | undefined;
  price: CompiledPrice;
  source: PriceSource;
}

/**
 * @internal Finds the price of a model: the user's overrides first, then genai-prices. Lookups by name are
 * cached (see `lookupGenaiPrice`); the date picks between date-dependent prices.
 */
export class PriceCatalog {
  private readonly overrides: ReadonlyMap<string, CompiledPrice>;

  constructor(overrides: PriceOverrides = {}) {
    this.overrides = new Map(Object.entries(overrides).map(([name, price]) => [name.toLowerCase(), compilePrice(price)]));
  }

  /** The price for `model`, or `undefined` when nothing prices it. */
  find(model: string, provider?: string, at: Date = new Date()): PriceQuote | undefined {
    const override = this.overrides.size ? this.findOverride(model.toLowerCase()) : undefined;
    if (override) return { pricedAs: override[0], provider: genaiProviderId(provider), price: override[1], source: "override" };
    const found = lookupGenaiPrice(model, genaiProviderId(provider), at);
    if (!found) return undefined;
    // A model's fixed price is one object for every call (see lookupGenaiPrice): so is its quote, until the
    // price data is refreshed (a new source).
    const source = genaiPriceSource();
    const cached = quotes.get(found);
    if (cached?.source === source) return cached;
    const quote: PriceQuote = { pricedAs: found.model, provider: found.provider, price: found.price, source };
    quotes.set(found, quote);
    return quote;
  }

  /** The price for `model`; throws `UnknownModelPriceError` rather than price a call at $0. */
  get(model: string, provider?: string, at?: Date, context?: UnknownPriceContext): PriceQuote {
    const quote = this.find(model, provider, at);
    if (!quote) throw new UnknownModelPriceError(model, provider, context);
    return quote;
  }

  private findOverride(model: string): [string, CompiledPrice] | undefined {
    const exact = this.overrides.get(model);
    if (exact) return [model, exact];
    // A dated snapshot ("my-model-2025-01-01", "my-model-0613") takes its family's price; nothing else does,
    // so an override of "gpt-4o" leaves "gpt-4o-mini" alone.
    const snapshot = DATED_SNAPSHOT.exec(model);
    if (!snapshot) return undefined;
    const family = model.slice(0, snapshot.index);
    const price = this.overrides.get(family);
    return price ? [family, price] : undefined;
  }
}

const quotes = new WeakMap<object, PriceQuote>();
const defaultCatalog = new PriceCatalog();
const catalogs = new WeakMap<object, PriceCatalog>();

/**
 * @internal The catalog for a `prices` option, validated and built once per options object: models are
 * re-created on every `bindTools`, and each must not re-validate and re-compile the same overrides.
 */
export function catalogFor(prices: unknown): PriceCatalog {
  if (prices === undefined) return defaultCatalog;
  if (typeof prices !== "object" || prices === null) return new PriceCatalog(parsePriceOverrides(prices));
  let catalog = catalogs.get(prices);
  if (!catalog) {
    catalog = new PriceCatalog(parsePriceOverrides(prices));
    catalogs.set(prices, catalog);
  }
  return catalog;
}
