import { catalogFor } from "../pricing/catalog.js";
import type { CompiledPrice, CompiledRate, RateKind } from "../pricing/model-price.js";

/** The kinds of token a price has a rate for, in display order, with the kind each falls back to. */
const KINDS: ReadonlyArray<{ kind: RateKind; name: string; parent?: keyof CompiledPrice }> = [
  { kind: "input", name: "input" },
  { kind: "cacheRead", name: "cache read", parent: "input" },
  { kind: "cacheWrite", name: "cache write", parent: "input" },
  { kind: "cacheWrite1h", name: "cache write (1 h)", parent: "cacheWrite" },
  { kind: "cacheReadAudio", name: "cache read (audio)", parent: "cacheRead" },
  { kind: "inputAudio", name: "input audio", parent: "input" },
  { kind: "output", name: "output" },
  { kind: "outputReasoning", name: "reasoning output", parent: "output" },
  { kind: "outputAudio", name: "output audio", parent: "output" },
];

/** Femto-USD per token → USD per 1M tokens, exact, without trailing zeros: 150_000_000n → "0.15". */
export function perMillion(femtoPerToken: bigint): string {
  return decimal(femtoPerToken, 9);
}

/** `value / 10^scale` as an exact decimal, without trailing zeros. */
function decimal(value: bigint, scale: number): string {
  const unit = 10n ** BigInt(scale);
  const frac = (value % unit).toString().padStart(scale, "0").replace(/0+$/, "");
  return frac ? `${value / unit}.${frac}` : `${value / unit}`;
}

interface RateRow {
  kind: string;
  usdPerMtok: string;
  tiers: Array<{ aboveInputTokens: number; usdPerMtok: string }>;
  /** The kind whose rate this one uses, when the price has none of its own. */
  sameAs?: string;
}

export interface PriceReport {
  model: string;
  provider: string | undefined;
  pricedAs: string;
  source: string;
  at: string;
  rates: RateRow[];
  webSearchUsdPerThousand: string;
}

/** A model's price as the library would charge it at `at` (throws `UnknownModelPriceError` when none is known). */
export function lookupPrice(model: string, provider: string | undefined, at: Date): PriceReport {
  const quote = catalogFor(undefined).get(model, provider, at, { entry: "priceUsage()" });
  const price = quote.price;
  const rates = KINDS.map(({ kind, parent }): RateRow => {
    const rate: CompiledRate = price[kind];
    const fallback = parent !== undefined && rate === price[parent] ? KINDS.find((k) => k.kind === parent)!.name : undefined;
    return {
      kind,
      usdPerMtok: perMillion(rate.base),
      tiers: rate.tiers.map((tier) => ({ aboveInputTokens: tier.start, usdPerMtok: perMillion(tier.price) })),
      ...(fallback ? { sameAs: fallback } : {}),
    };
  });
  // Audio with no rate of its own is charged at the text rate and marked estimated (missingRates: "estimate").
  for (const row of rates) {
    if ((row.kind === "inputAudio" && !price.audioRates.input) || (row.kind === "outputAudio" && !price.audioRates.output)) {
      row.sameAs = `${row.sameAs ?? "text"} rate, estimated`;
    }
  }
  return {
    model,
    provider: quote.provider,
    pricedAs: quote.pricedAs,
    source: quote.source,
    at: at.toISOString(),
    rates,
    // Femto-USD per search → USD per 1,000 searches.
    webSearchUsdPerThousand: decimal(price.webSearch, 12),
  };
}

export function priceText(report: PriceReport): string {
  const out = [
    `${report.model}: priced as "${report.pricedAs}"${report.provider ? ` (provider ${report.provider})` : ""}, source ${report.source}, at ${report.at}`,
    "",
    "USD per 1M tokens:",
  ];
  const names = new Map(KINDS.map((k) => [k.kind as string, k.name]));
  const width = Math.max(...KINDS.map((k) => k.name.length));
  const rateWidth = Math.max(...report.rates.map((r) => r.usdPerMtok.length));
  for (const row of report.rates) {
    const tiers = row.tiers.map((t) => `${t.usdPerMtok} above ${t.aboveInputTokens.toLocaleString("en-US")} input tokens`).join("; ");
    const notes = [row.sameAs ? `(${row.sameAs.includes("rate") ? row.sameAs : `${row.sameAs} rate`})` : "", tiers ? `tiers: ${tiers}` : ""].filter(Boolean).join("  ");
    out.push(`  ${names.get(row.kind)!.padEnd(width)}  ${row.usdPerMtok.padStart(rateWidth)}${notes ? `  ${notes}` : ""}`.trimEnd());
  }
  if (report.webSearchUsdPerThousand !== "0") out.push("", `web search: ${report.webSearchUsdPerThousand} USD per 1,000 searches`);
  if (report.rates.some((r) => r.tiers.length)) {
    out.push("", "A tier's rate applies to the whole call once its input (cache included) passes the tier's start.");
  }
  return out.join("\n") + "\n";
}
