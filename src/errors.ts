import { stampRetryable } from "@langchain/core/errors";

/**
 * One base class for every error this library throws. Each class carries a `Symbol.for` marker, so
 * `isInstance` works across duplicate installs and across the ESM and CJS copies of the package,
 * where `instanceof` does not.
 */
const meteredMarker = Symbol.for("langchain-metered.error");

/** @internal True when `value` is an object carrying `marker`. */
export function hasMarker(value: unknown, marker: symbol): boolean {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[marker] === true;
}

/**
 * Base class of every `langchain-metered` error.
 *
 * @example
 * ```ts
 * try { await model.invoke("hi"); } catch (e) { if (MeteredError.isInstance(e)) console.error(e.message); }
 * ```
 */
export class MeteredError extends Error {
  private readonly [meteredMarker] = true;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    // Final unless a subclass says otherwise: retrying a refused call, corrupt usage or a missing price
    // would send (and pay for) the same call again for the same outcome.
    stampRetryable(this, false);
  }

  /** Whether `error` is any `langchain-metered` error, whichever copy of the package threw it. */
  static isInstance(error: unknown): error is MeteredError {
    return hasMarker(error, meteredMarker);
  }
}

const invalidOptionsMarker = Symbol.for("langchain-metered.InvalidOptionsError");

/**
 * Options given to this library are wrong: a misspelt or misplaced key, a value of the wrong type. The
 * message names each problem's path, what was expected and what was got, and the key a misspelt one most
 * likely meant.
 *
 * @example
 * ```ts
 * new MeteredChatModel({ model: "gpt-4o", budget: { limitUSD: 1 } });
 * // InvalidOptionsError: Invalid options for MeteredChatModel:
 * //   - budget: Unrecognized key: "limitUSD"; did you mean `limitUsd`?
 * ```
 */
export class InvalidOptionsError extends MeteredError {
  private readonly [invalidOptionsMarker] = true;
  /** Each problem, as `path: message`. */
  readonly problems: readonly string[];

  constructor(where: string, problems: readonly string[]) {
    super(`Invalid options for ${where}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.problems = problems;
  }

  static override isInstance(error: unknown): error is InvalidOptionsError {
    return hasMarker(error, invalidOptionsMarker);
  }
}
