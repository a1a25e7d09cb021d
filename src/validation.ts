import { z } from "zod";
import { InvalidOptionsError } from "./errors.js";

/**
 * @internal Validates options against a strict schema (an unknown key is an error, with the known key it
 * most likely meant), throwing `InvalidOptionsError` that names `where` and each bad path under `root`.
 */
export function parseOptions<Shape extends z.ZodRawShape>(
  schema: z.ZodObject<Shape, z.core.$strict>,
  input: unknown,
  where: string,
  root: string,
): z.infer<z.ZodObject<Shape, z.core.$strict>> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  throw new InvalidOptionsError(where, describeIssues(result.error.issues, root, Object.keys(schema.shape)));
}

/**
 * @internal Zod issues as messages that say where and what: the dotted path as it would be written in code
 * (`budget.quotas[1].timeZone`), zod's message, and, for a misspelt key, the known key it is closest to.
 */
export function describeIssues(issues: readonly z.core.$ZodIssue[], root: string, knownKeys: readonly string[]): string[] {
  return issues.map((issue) => {
    const path = `${root}${issue.path.map(pathPart).join("")}`.replace(/^\./, "") || "options";
    const hint = issue.code === "unrecognized_keys" ? suggestKeys(issue.keys, knownKeys) : "";
    return `${path}: ${issue.message}${hint}`;
  });
}

/** "; did you mean `cacheRead`?" for keys one or two edits (or only the case) away from a known one. */
export function suggestKeys(keys: readonly string[], knownKeys: readonly string[]): string {
  const hints = keys.flatMap((key) => {
    const best = closest(key, knownKeys);
    return best ? [`\`${best}\``] : [];
  });
  return hints.length ? `; did you mean ${hints.join(", ")}?` : "";
}

/** The known key `key` most likely meant, if any is close: same letters in another case, or ≤ 2 edits. */
export function closest(key: string, knownKeys: readonly string[]): string | undefined {
  let best: { known: string; distance: number } | undefined;
  for (const known of knownKeys) {
    const distance = key.toLowerCase() === known.toLowerCase() ? 0 : editDistance(key, known);
    if (!best || distance < best.distance) best = { known, distance };
  }
  return best && best.distance <= 2 ? best.known : undefined;
}

/** A value as a message shows what was received: `"usage.jsonl" (string)`, `5 (number)`, `a Redis`. */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") {
    const name = (value as object).constructor?.name;
    return !name || name === "Object" ? "an object" : `a ${name}`;
  }
  if (typeof value === "function") return "a function";
  if (typeof value === "number" && !Number.isFinite(value)) return `${value} (number)`; // JSON would say null
  return `${JSON.stringify(value) ?? String(value)} (${typeof value})`;
}

/** `.key`, `["my-model"]` or `[0]`, as the path would be written in code. */
function pathPart(part: PropertyKey): string {
  if (typeof part === "number") return `[${part}]`;
  const key = String(part);
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** @internal A whole number ≥ 1 (milliseconds, a count), with a message that shows what was given. */
export function positiveWhole() {
  return z.custom<number>((value) => Number.isSafeInteger(value) && (value as number) > 0, {
    error: (issue) => `Expected a whole number ≥ 1, got ${describeValue(issue.input)}`,
  });
}

/** @internal A function (a clock, a callback). */
export function aFunction<F>() {
  return z.custom<F>((value) => typeof value === "function", { error: (issue) => `Expected a function, got ${describeValue(issue.input)}` });
}
