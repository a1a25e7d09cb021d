/**
 * What the library adds to a browser app's bundle (`npm run bench -- bundle`): an app that makes a
 * `MeteredChatModel` (from src/index.ts, the root entry) against the same app making a plain `ChatOpenAI` from
 * `@langchain/openai`, and one that only calls `priceUsage`. All three with the same esbuild settings: bundled
 * with nothing external, `platform: "browser"`, ESM, minified, code splitting on (as an app bundler does
 * with dynamic imports), target es2022.
 *
 * "Loaded up front" is the entry chunk and the chunks it imports statically; "lazy" is what only a dynamic
 * import loads (the tokenizer's ranks, fetched when a hard cap first needs to count tokens). gzip is zlib's
 * default level (6), per file, summed. A second table splits the up-front bytes by package (minified, before
 * gzip, from esbuild's metafile). Sizes are deterministic for a given lock file: one build each, no timing.
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";
import { assert, section } from "./harness.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const INDEX = JSON.stringify(join(ROOT, "src/index.ts"));

const APPS = [
  {
    name: "plain `ChatOpenAI` (@langchain/openai)",
    source: `import { ChatOpenAI } from "@langchain/openai";
globalThis.model = new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "key" });`,
  },
  {
    name: "`MeteredChatModel` (langchain-metered)",
    source: `import { MeteredChatModel } from ${INDEX};
globalThis.model = new MeteredChatModel({ model: "gpt-4o-mini", apiKey: "key" });`,
  },
  {
    name: "`priceUsage` only (langchain-metered)",
    source: `import { priceUsage } from ${INDEX};
globalThis.cost = priceUsage({ input_tokens: 1000, output_tokens: 500, total_tokens: 1500 }, "gpt-4o-mini");`,
  },
] as const;

interface Size {
  bytes: number;
  gzip: number;
  files: number;
}

interface Measured {
  name: string;
  upFront: Size;
  lazy: Size;
  /** Minified bytes loaded up front, by package ("langchain-metered" for src/). */
  byPackage: Map<string, number>;
  ranksUpFront: boolean;
}

async function measure(name: string, source: string): Promise<Measured> {
  const result = await esbuild.build({
    stdin: { contents: source, resolveDir: ROOT, sourcefile: "app.ts", loader: "ts" },
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    minify: true,
    splitting: true,
    outdir: "/virtual-out", // write: false keeps the files in memory
    entryNames: "app",
    write: false,
    metafile: true,
    logLevel: "silent",
    absWorkingDir: ROOT,
  });
  assert(result.errors.length === 0, `${name}: esbuild errors`);
  const { outputs } = result.metafile;
  const entry = Object.keys(outputs).find((path) => /(^|\/)app\.js$/.test(path));
  assert(entry, `${name}: no entry chunk`);

  const upFront = new Set<string>();
  const visit = (path: string) => {
    if (upFront.has(path)) return;
    upFront.add(path);
    for (const imp of outputs[path]?.imports ?? []) {
      assert(!imp.external, `${name}: ${imp.path} left external`);
      if (imp.kind === "import-statement") visit(imp.path);
    }
  };
  visit(entry);

  const contents = new Map(result.outputFiles.map((file) => [file.path, file.contents]));
  const sizeOf = (paths: string[]): Size => {
    let bytes = 0;
    let gzip = 0;
    for (const path of paths) {
      const data = contents.get(resolve(ROOT, path));
      assert(data, `${name}: no contents for ${path}`);
      bytes += data.byteLength;
      gzip += gzipSync(data).byteLength;
    }
    return { bytes, gzip, files: paths.length };
  };
  const js = Object.keys(outputs).filter((path) => path.endsWith(".js"));

  const byPackage = new Map<string, number>();
  let ranksUpFront = false;
  for (const path of upFront) {
    for (const [input, { bytesInOutput }] of Object.entries(outputs[path]!.inputs)) {
      const pkg = input.startsWith("src/") ? "langchain-metered" : (/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? input);
      byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + bytesInOutput);
      if (/js-tiktoken\/dist\/ranks\//.test(input) && bytesInOutput > 0) ranksUpFront = true;
    }
  }
  return {
    name,
    upFront: sizeOf([...upFront]),
    lazy: sizeOf(js.filter((path) => !upFront.has(path))),
    byPackage,
    ranksUpFront,
  };
}

const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
const num = (n: number) => n.toLocaleString("en-US");
const signed = (n: number, f: (n: number) => string) => `${n >= 0 ? "+" : "−"}${f(Math.abs(n))}`;

section("bundle", async () => {
  const measured: Measured[] = [];
  for (const app of APPS) measured.push(await measure(app.name, app.source));
  const [plain, metered] = measured as [Measured, Measured, Measured];
  for (const m of measured) assert(!m.ranksUpFront, `${m.name}: the tokenizer's ranks are in the up-front chunks`);

  const lines = [
    "| app (esbuild: platform browser, ESM, minified, splitting) | up front: bytes | up front: gzip | Δ vs plain `ChatOpenAI`: bytes / gzip | lazy chunks: bytes / gzip |",
    "|---|--:|--:|--:|--:|",
  ];
  for (const m of measured) {
    const vsPlain = m === plain ? "" : `${signed(m.upFront.bytes - plain.upFront.bytes, kb)} / ${signed(m.upFront.gzip - plain.upFront.gzip, kb)} (${signed(Math.round((m.upFront.gzip / plain.upFront.gzip - 1) * 100), String)} %)`;
    const lazy = m.lazy.files ? `${kb(m.lazy.bytes)} / ${kb(m.lazy.gzip)} (${m.lazy.files} files)` : "—";
    lines.push(`| ${m.name} | ${num(m.upFront.bytes)} (${kb(m.upFront.bytes)}) | ${num(m.upFront.gzip)} (${kb(m.upFront.gzip)}) | ${vsPlain} | ${lazy} |`);
  }

  const packages = [...new Set([...metered.byPackage.keys(), ...plain.byPackage.keys()])]
    .map((pkg) => ({ pkg, metered: metered.byPackage.get(pkg) ?? 0, plain: plain.byPackage.get(pkg) ?? 0 }))
    .filter((row) => row.metered + row.plain > 0)
    .sort((a, b) => b.metered - b.plain - (a.metered - a.plain) || b.metered - a.metered);
  lines.push(
    "",
    "| package (minified bytes loaded up front) | `MeteredChatModel` app | plain `ChatOpenAI` app | Δ |",
    "|---|--:|--:|--:|",
    ...packages
      .filter((row) => row.metered !== row.plain || row.metered > 50_000)
      .map((row) => `| ${row.pkg} | ${num(row.metered)} | ${num(row.plain)} | ${signed(row.metered - row.plain, num)} |`),
  );
  console.log(lines.join("\n"));
  console.log(`\nesbuild ${esbuild.version}; gzip = zlib level 6 per file, summed.`);
});
