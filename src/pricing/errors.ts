import { hasMarker, MeteredError } from "../errors.js";

const unknownPriceMarker = Symbol.for("langchain-metered.UnknownModelPriceError");
const overrideMarker = Symbol.for("langchain-metered.PriceOverrideError");

/**
 * No price is known for a model: it is neither in genai-prices' data nor in the `prices` option.
 * Thrown instead of pricing the call at $0.
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

  constructor(model: string, provider?: string) {
    const where = provider ? ` (provider "${provider}")` : "";
    super(
      `No price is known for model "${model}"${where}, and it has no entry in the \`prices\` option. ` +
        `Add one, in USD per 1M tokens: new MeteredChatModel({ model: "${model}", prices: { "${model}": ` +
        `{ input: 0.15, output: 0.6, cacheRead: 0.075 } } }).`,
    );
    this.model = model;
    this.provider = provider;
  }

  static override isInstance(error: unknown): error is UnknownModelPriceError {
    return hasMarker(error, unknownPriceMarker);
  }
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
        `inputAudio, outputAudio, outputReasoning):\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
    this.problems = problems;
  }

  static override isInstance(error: unknown): error is PriceOverrideError {
    return hasMarker(error, overrideMarker);
  }
}
