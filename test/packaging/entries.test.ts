/**
 * The published layout (issue 10, "Bundle"): package.json's `exports` and tsup's entries agree, every entry is
 * side-effect free, and the build shares one copy of the core between entries (tsup `splitting`, ESM and CJS):
 * the price catalog is in exactly one file per format, so `langchain-metered/redis` and the root never hold
 * two. Node built-ins and optional peers stay on the entries that need them.
 *
 * Builds with tsup's JS API and this repo's tsup.config.ts into a temp dir (no type declarations: attw and
 * publint check those after `npm run build`); `dist/` isn't needed.
 */
import { readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Metafile } from "esbuild";
import { build, type Options } from "tsup";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import tsupConfig from "../../tsup.config.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  exports: Record<string, string | { import: { types: string; default: string }; require: { types: string; default: string } }>;
  sideEffects: unknown;
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
  devDependencies: Record<string, string>;
};
const config = tsupConfig as Options & { entry: Record<string, string> };
/** tsup's entries that are exports: all but `cli`, the `langchain-metered` bin (package.json "bin", test/cli/bin.test.ts). */
const EXPORTED = Object.keys(config.entry).filter((name) => name !== "cli");

/**
 * A string only the price catalog's code holds (src/pricing/genai-prices.ts: genai-prices' key for the 1-hour
 * cache write, in the table every price lookup goes through, so no entry that prices tree-shakes it away).
 * Without splitting it is in four files per format (index, agents and both Langfuse entries).
 */
const CATALOG_MARK = "cache_write_1h_mtok";
const NODE_BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const FORMATS = [
  { format: "esm", ext: ".js" },
  { format: "cjs", ext: ".cjs" },
] as const;

/** What each entry may import (besides our own chunks) beyond @langchain/*, zod, genai-prices and js-tiktoken. */
const ALLOWED: Record<string, string[]> = {
  index: [],
  redis: ["ioredis", "cluster-key-slot", "node:perf_hooks"],
  langfuse: ["@langfuse/langchain"],
  "langfuse-langchain": ["langfuse-langchain"],
  jsonl: ["node:fs/promises"],
  cloudevents: ["node:fs/promises", "node:path"],
  agents: ["langchain"],
};
const CORE = /^(@langchain\/(core|openai)(\/.*)?|zod(\/.*)?|@pydantic\/genai-prices|js-tiktoken\/.*)$/;

describe("package.json", () => {
  it("declares every entry side-effect free", () => {
    expect(pkg.sideEffects).toBe(false);
  });

  it("exports exactly tsup's entries, each as ESM + CJS with their own types", () => {
    const subpaths = Object.keys(pkg.exports).filter((key) => key !== "./package.json");
    const expected = EXPORTED.map((name) => (name === "index" ? "." : `./${name}`));
    expect(subpaths.sort()).toEqual(expected.sort());
    for (const name of EXPORTED) {
      const conditions = pkg.exports[name === "index" ? "." : `./${name}`];
      expect(conditions).toEqual({
        import: { types: `./dist/${name}.d.ts`, default: `./dist/${name}.js` },
        require: { types: `./dist/${name}.d.cts`, default: `./dist/${name}.cjs` },
      });
    }
  });

  it("ships code, types, README, CHANGELOG and LICENSE, and no source maps", () => {
    const files = (pkg as unknown as { files: string[] }).files;
    expect(files).toEqual(["dist/**/*.js", "dist/**/*.cjs", "dist/**/*.d.ts", "dist/**/*.d.cts", "README.md", "CHANGELOG.md", "LICENSE"]);
    expect(readFileSync(join(ROOT, "LICENSE"), "utf8")).toMatch(/^MIT License/);
    expect(config.sourcemap).toBe(false);
    // `@internal` members are stripped from the published types (attw and publint check the rest in CI).
    expect((config.dts as { compilerOptions?: { stripInternal?: boolean } }).compilerOptions?.stripInternal).toBe(true);
  });

  it("resolves every subpath's types under moduleResolution node10 (typesVersions)", () => {
    const typesVersions = (pkg as unknown as { typesVersions: Record<string, Record<string, string[]>> }).typesVersions["*"];
    const subpaths = EXPORTED.filter((name) => name !== "index");
    expect(Object.keys(typesVersions ?? {}).sort()).toEqual(subpaths.sort());
    for (const name of subpaths) expect(typesVersions?.[name]).toEqual([`./dist/${name}.d.cts`]);
  });

  it("keeps genai-prices exact (prices are reproducible) and zod and js-tiktoken as ranges (one copy with the app's)", () => {
    expect(pkg.dependencies["@pydantic/genai-prices"]).toMatch(/^\d+\.\d+\.\d+$/);
    expect(pkg.dependencies.zod).toMatch(/^\^4\./);
    expect(pkg.dependencies["js-tiktoken"]).toMatch(/^\^1\./);
  });

  it("lists what the entries import from outside as dependencies or optional peers", () => {
    expect(config.entry.agents).toBe("src/scope/budget-middleware.ts");
    expect(pkg.peerDependencies.langchain).toBe("^1");
    for (const peer of ["langchain", "ioredis", "@langfuse/langchain", "langfuse-langchain"]) {
      expect(pkg.peerDependenciesMeta[peer]?.optional, `${peer} is an optional peer`).toBe(true);
    }
    expect(pkg.devDependencies.langchain, "langchain is installed for the tests").toBeDefined();
  });
});

describe("the build", () => {
  let outDir: string;
  const metafiles: Record<string, Metafile> = {};

  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), "langchain-metered-tsup-"));
    await build({ ...config, config: false, outDir, dts: false, sourcemap: false, metafile: true, silent: true, clean: true });
    for (const { format } of FORMATS) {
      metafiles[format] = JSON.parse(await readFile(join(outDir, `metafile-${format}.json`), "utf8")) as Metafile;
    }
  }, 120_000);

  afterAll(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  /** The outputs that load when `entry` is imported: it and the chunks it imports statically. */
  const loadedBy = (format: string, file: string): string[] => {
    const { outputs } = metafiles[format]!;
    const key = (name: string) => Object.keys(outputs).find((path) => path.endsWith(`/${name}`))!;
    const seen = new Set<string>();
    const visit = (path: string) => {
      if (seen.has(path)) return;
      seen.add(path);
      for (const imp of outputs[path]?.imports ?? []) if (!imp.external && imp.kind !== "dynamic-import") visit(imp.path);
    };
    visit(key(file));
    return [...seen];
  };
  /** Packages and built-ins loaded (statically) by importing an entry. */
  const externalsOf = (format: string, file: string): string[] => {
    const { outputs } = metafiles[format]!;
    const specs = loadedBy(format, file).flatMap((path) => outputs[path]!.imports.filter((imp) => imp.external && imp.kind !== "dynamic-import").map((imp) => imp.path));
    return [...new Set(specs)].sort();
  };

  it.each(FORMATS)("$format: the price catalog is in exactly one file, shared by every entry", async ({ format, ext }) => {
    const files = (await readdir(outDir)).filter((file) => file.endsWith(ext));
    const holding: string[] = [];
    for (const file of files) if ((await readFile(join(outDir, file), "utf8")).includes(CATALOG_MARK)) holding.push(file);
    expect(holding).toHaveLength(1);
    for (const entry of ["index", "agents", "langfuse", "langfuse-langchain"]) {
      const loaded = loadedBy(format, `${entry}${ext}`).map((path) => path.split("/").pop());
      expect(loaded, `${entry}${ext} loads the shared catalog`).toContain(holding[0]);
    }
  });

  it.each(FORMATS)("$format: each entry loads only its own peers and Node built-ins", ({ format, ext }) => {
    for (const [entry, allowed] of Object.entries(ALLOWED)) {
      const unexpected = externalsOf(format, `${entry}${ext}`).filter((spec) => !CORE.test(spec) && !allowed.includes(spec));
      expect(unexpected, `${entry}${ext}`).toEqual([]);
    }
    expect(externalsOf(format, `index${ext}`).filter((spec) => NODE_BUILTINS.has(spec))).toEqual([]);
  });

  it.each(FORMATS)("$format: the tokenizer's ranks stay behind a dynamic import", ({ format }) => {
    const imports = Object.values(metafiles[format]!.outputs).flatMap((out) => out.imports);
    const ranks = imports.filter((imp) => imp.path.startsWith("js-tiktoken/ranks/"));
    expect(ranks.length).toBeGreaterThan(0);
    for (const imp of ranks) expect(imp.kind, imp.path).toBe("dynamic-import");
  });
});
