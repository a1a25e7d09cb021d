import type { UsageMetadata } from "@langchain/core/messages";
import { hasMarker, MeteredError } from "../errors.js";

/**
 * Usage as the provider reported it is checked before it is priced: a count that is not a finite
 * non-negative integer (a proxy that sends `"12"`: LangChain then builds `"012"`), or one no call can reach,
 * would price a paid call at $0 or at nonsense. Such a call is charged a conservative estimate instead, and
 * the caller gets an `InvalidUsageError`.
 */

/** More tokens than any model reads or writes in one call: a count above it is corrupt, not large. */
export const MAX_CALL_TOKENS = 1_000_000_000;

/** @internal Whether a response reported usage at all (all-zero usage is what some paths attach when none came). */
export function reportsUsage(usage: Partial<UsageMetadata> | undefined | null): usage is Partial<UsageMetadata> {
  if (!usage) return false;
  const { input_tokens, output_tokens, total_tokens } = usage as Record<string, unknown>;
  return [input_tokens, output_tokens, total_tokens].some((value) => value !== undefined && value !== null && value !== 0);
}

const TOKEN_COUNTS = ["input_tokens", "output_tokens", "total_tokens"] as const;
const TOKEN_DETAILS = ["input_token_details", "output_token_details"] as const;

/** @internal What is wrong with reported usage, as `path: problem` lines; empty when it can be priced. */
export function usageProblems(usage: Partial<UsageMetadata>, maxOutputTokens?: number): string[] {
  const problems: string[] = [];
  const check = (value: unknown, path: string) => {
    if (value === undefined || value === null) return;
    if (typeof value !== "number") problems.push(`${path} is ${JSON.stringify(value)} (a ${typeof value}), expected a non-negative integer`);
    else if (!Number.isInteger(value) || value < 0) problems.push(`${path} is ${value}, expected a non-negative integer`);
    else if (value > MAX_CALL_TOKENS) problems.push(`${path} is ${value}, more than any call can use (${MAX_CALL_TOKENS})`);
  };
  const fields = usage as Record<string, unknown>;
  for (const key of TOKEN_COUNTS) check(fields[key], key);
  for (const key of TOKEN_DETAILS) {
    const details = fields[key];
    if (details === undefined || details === null) continue;
    if (typeof details !== "object") problems.push(`${key} is ${JSON.stringify(details)}, expected an object`);
    else for (const name in details) check((details as Record<string, unknown>)[name], `${key}.${name}`);
  }
  const output = fields.output_tokens;
  if (maxOutputTokens !== undefined && typeof output === "number" && output > maxOutputTokens) {
    problems.push(`output_tokens is ${output}, more than the ${maxOutputTokens} the request allowed`);
  }
  return problems;
}

const invalidUsageMarker = Symbol.for("langchain-metered.InvalidUsageError");

/**
 * A response's usage can't be trusted (counts that are not non-negative integers, that contradict each other
 * or the max tokens sent): the call was charged a conservative estimate (`chargedUsd`) instead of its usage.
 *
 * @example
 * ```ts
 * try { await model.invoke("hi"); }
 * catch (e) { if (InvalidUsageError.isInstance(e)) console.error(e.problems, e.chargedUsd); }
 * ```
 */
export class InvalidUsageError extends MeteredError {
  private readonly [invalidUsageMarker] = true;
  readonly model: string;
  readonly provider: string | undefined;
  /** Each problem, as `field: what is wrong`. */
  readonly problems: readonly string[];
  /** What the call was charged instead, in USD. */
  readonly chargedUsd: number;

  constructor(fields: { model: string; provider: string | undefined; problems: readonly string[]; chargedUsd: number }) {
    const where = fields.provider ? ` (provider "${fields.provider}")` : "";
    super(
      `The usage reported for model "${fields.model}"${where} can't be priced:\n${fields.problems.map((p) => `  - ${p}`).join("\n")}\n` +
        `The call was charged a conservative estimate instead ($${fields.chargedUsd}). If a proxy rewrites the provider's ` +
        "usage, fix it there: token counts must be non-negative integers.",
    );
    this.model = fields.model;
    this.provider = fields.provider;
    this.problems = fields.problems;
    this.chargedUsd = fields.chargedUsd;
  }

  static override isInstance(error: unknown): error is InvalidUsageError {
    return hasMarker(error, invalidUsageMarker);
  }
}
