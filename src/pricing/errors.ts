import { hasMarker, MeteredError } from "../errors.js";
import { type MissingRate, missingRateName } from "./model-price.js";

const unknownPriceMarker = Symbol.for("langchain-metered.UnknownModelPriceError");
const overrideMarker = Symbol.for("langchain-metered.PriceOverrideError");

/** Where a model with no price was configured, so an error's fix fits it (and why it was needed). */
export interface UnknownPriceContext {
  /** The entry point: `"MeteredChatModel"` (default), `"meter()"`, or a budget's, e.g. `"BudgetCallbackHandler"`. */
  entry?: string | undefined;
  /** The model counts the endpoint's reported cost, and the endpoint reported none for this call. */
  reportMissing?: boolean | undefined;
  /** A hard cap needs a price to reserve each call's worst case before it is sent. */
  hardCap?: boolean | undefined;
  /** The price is known but has no rate for these kinds of token in the call (under `missingRates: "error"`). */
  missingRates?: readonly MissingRate[] | undefined;
}

/**
 * No price is known for a model: it is neither in genai-prices' data nor in the `prices` option (and,
 * under `costSource: "reported"`, the endpoint reported no cost either). Thrown instead of pricing the call
 * at $0; the message says how to price it from where the model was configured.
 *
 * @example
 * ```ts
 * new MeteredChatModel({ model: "my-finetune", prices: { "my-finetune": { input: 0.3, output: 1.2 } } });
 * ```
 */
export class UnknownModelPriceError extends MeteredError {
  private readonly [unknownPriceMarker] = true;
  /** The model name that has no price. */
  readonly model: string;
  /** The provider it was looked up under, when known. */
  readonly provider: string | undefined;

  constructor(model: string, provider?: string, context: UnknownPriceContext = {}) {
    super(unknownPriceMessage(model, provider, context));
    this.model = model;
    this.provider = provider;
  }

  static override isInstance(error: unknown): error is UnknownModelPriceError {
    return hasMarker(error, unknownPriceMarker);
  }
}

function unknownPriceMessage(model: string, provider: string | undefined, { entry = "MeteredChatModel", reportMissing, hardCap, missingRates }: UnknownPriceContext): string {
  const named = `model "${model}"${provider ? ` (provider "${provider}")` : ""}`;
  if (missingRates?.length) {
    const kinds = missingRates.map(missingRateName).join(" and ");
    return `The price of ${named} has no ${kinds} rate, and the call used such tokens (missingRates: "error"); it was charged ` +
      `at the text rate, marked estimated. Add the rate, in USD per 1M tokens, with the model's whole price: ` +
      `${pricedExample(entry, model, `prices: { "${model}": { input: 2.5, output: 10, ${missingRates.map((k) => `${k}: 40`).join(", ")} } }`)}.`;
  }
  const head = reportMissing
    ? `The endpoint reported no cost for this call (costSource: "reported") and no price is known for ${named}, so it can't be priced.`
    : hardCap
      ? `A hard cap reserves each call's worst case before sending it, which needs a price, and none is known for ${named}.`
      : `No price is known for ${named}, in genai-prices' data or the \`prices\` option.`;
  const prices = `prices: { "${model}": { input: 0.15, output: 0.6 } }`;
  const withPrices = `Price it in USD per 1M tokens: ${pricedExample(entry, model, prices)}`;
  if (entry === "priceUsage()" || entry === "estimateCost()") return `${head} ${withPrices}.`;
  if (entry !== "MeteredChatModel" && entry !== "meter()") {
    // A budget over plain models prices them itself; only a metered model can count an endpoint's report.
    return `${head} ${withPrices}; or meter the model with meter(model, { costSource: "reported" }) when its endpoint reports each call's cost.`;
  }
  const reported = reportMissing || hardCap
    ? ""
    : `; or, when the endpoint reports each call's cost (OpenRouter's usage.cost, a LiteLLM proxy's header), count that with \`costSource: "reported"\``;
  return `${head} ${withPrices}; or set \`provider\` to the provider whose prices apply (e.g. "openai" behind a proxy)${reported}.`;
}

function pricedExample(entry: string, model: string, prices: string): string {
  if (entry === "MeteredChatModel") return `new MeteredChatModel({ model: "${model}", ${prices} })`;
  if (entry === "meter()") return `meter(model, { ${prices} })`;
  if (entry === "priceUsage()") return `priceUsage(usage, "${model}", { ${prices} })`;
  if (entry === "estimateCost()") return `estimateCost("${model}", input, { ${prices} })`;
  return entry.endsWith("()") ? `${entry.slice(0, -2)}({ ${prices} })` : `new ${entry}({ ${prices} })`;
}

/**
 * The `prices` option is malformed: a misspelt key, a negative or non-numeric price. The message names
 * the dotted path of every problem.
 */
export class PriceOverrideError extends MeteredError {
  private readonly [overrideMarker] = true;
  /** Each problem, as `path: message`. */
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(
      `Invalid \`prices\` option (USD per 1M tokens; keys input, output, cacheRead, cacheWrite, cacheWrite1h, ` +
        `cacheReadAudio, inputAudio, outputAudio, outputReasoning; webSearchPerThousand in USD per 1,000 searches):\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
    this.problems = problems;
  }

  static override isInstance(error: unknown): error is PriceOverrideError {
    return hasMarker(error, overrideMarker);
  }
}
