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
  }

  /** Whether `error` is any `langchain-metered` error, whichever copy of the package threw it. */
  static isInstance(error: unknown): error is MeteredError {
    return hasMarker(error, meteredMarker);
  }
}
