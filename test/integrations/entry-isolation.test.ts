/**
 * Both Langfuse SDKs are optional peers: importing "langchain-metered" must never load either, and each
 * subpath loads only its own. Checked on the source import graph (always) and on the built bundles (when
 * `npm run build` has produced them).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const COMMENTS = /\/\*[\s\S]*?\*\/|^\s*\/\/.*$/gm; // TSDoc examples import the subpaths too
const SPECIFIER = /(?:^|\s)(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/gm;

/** Every package a module reaches through its relative imports (type-only imports included: stricter). */
function packagesReachedFrom(entry: string): Set<string> {
  const packages = new Set<string>();
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const code = readFileSync(file, "utf8").replace(COMMENTS, "");
    for (const match of code.matchAll(SPECIFIER)) {
      const specifier = match[1] ?? match[2] ?? "";
      if (specifier.startsWith(".")) visit(resolve(dirname(file), specifier.replace(/\.js$/, ".ts")));
      else packages.add(specifier);
    }
  };
  visit(resolve(root, entry));
  return packages;
}

const langfuse = (packages: Iterable<string>) => [...packages].filter((p) => p.includes("langfuse"));

describe("the Langfuse SDKs stay on their subpaths", () => {
  it("src/index.ts reaches neither SDK", () => {
    expect(langfuse(packagesReachedFrom("src/index.ts"))).toEqual([]);
  });

  it("each subpath reaches only its own SDK", () => {
    expect(langfuse(packagesReachedFrom("src/integrations/langfuse-langchain.ts"))).toEqual(["langfuse-langchain"]);
    expect(langfuse(packagesReachedFrom("src/integrations/langfuse.ts"))).toEqual(["@langfuse/langchain"]);
  });

  it.skipIf(!existsSync(resolve(root, "dist/index.js")))("the built main entry doesn't mention langfuse", () => {
    for (const file of ["dist/index.js", "dist/index.cjs"]) {
      expect(readFileSync(resolve(root, file), "utf8")).not.toMatch(/langfuse/i);
    }
  });
});
