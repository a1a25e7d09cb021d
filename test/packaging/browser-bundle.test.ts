/**
 * The root entry in a browser / edge bundle (issue 10, "Bundle"): esbuild bundles `src/index.ts` with
 * `platform: "browser"` and nothing external (LangChain, the OpenAI SDK, zod, genai-prices and js-tiktoken all go
 * in), the bundle imports no Node built-in, and it imports and prices a call in a `node:vm` realm that has
 * the web platform's globals (fetch, URL, TextEncoder, AbortController …) but no `process`, `Buffer`,
 * `require` or `global`. The tokenizer's ranks (2.3 MB for o200k_base) stay out of a consumer's main chunk:
 * they are a chunk of their own, loaded by dynamic import.
 *
 * Everything is built into a temp dir from `src/` with esbuild's JS API; `dist/` isn't needed.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeOpenAI, startFakeOpenAI } from "../support/openai-server.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const INDEX = join(ROOT, "src/index.ts");
const RANKS = /node_modules\/js-tiktoken\/dist\/ranks\/(o200k_base|cl100k_base)\.js$/;
const BUILD_TIMEOUT = 120_000;

type Platform = "browser" | "node";

interface Bundle {
  dir: string;
  result: esbuild.BuildResult<{ metafile: true }>;
  /** The entry chunk's path, as esbuild's metafile names outputs (relative to ROOT). */
  entry: string;
}

/** A consumer app, bundled with everything in it (nothing external), split into chunks, ESM. */
async function bundle(contents: string, platform: Platform, minify = false): Promise<Bundle> {
  const dir = await mkdtemp(join(tmpdir(), `langchain-metered-${platform}-bundle-`));
  const result = await esbuild.build({
    // stdin with resolveDir = the repo: the app resolves @langchain/*, zod … from the repo's node_modules
    // the way a consumer's app resolves them from its own.
    stdin: { contents, resolveDir: ROOT, sourcefile: "app.ts", loader: "ts" },
    bundle: true,
    platform,
    format: "esm",
    splitting: true,
    minify,
    outdir: dir,
    entryNames: "app",
    metafile: true,
    write: true,
    logLevel: "silent",
    absWorkingDir: ROOT,
    // No `external`: every package, @langchain/core and @langchain/openai included, is bundled.
  });
  const entry = Object.entries(result.metafile.outputs).find(([path]) => /(^|\/)app\.js$/.test(path))?.[0];
  if (!entry) throw new Error("esbuild produced no output for the app's entry");
  return { dir, result, entry };
}

/** The outputs a page loads before any dynamic import: the entry chunk and what it imports statically. */
function initialChunks(metafile: esbuild.Metafile, entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    for (const imp of metafile.outputs[path]?.imports ?? []) if (imp.kind === "import-statement") visit(imp.path);
  };
  visit(entry);
  return seen;
}

const NODE_BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

const APP = `export { MeteredChatModel, priceUsage } from ${JSON.stringify(INDEX)};`;

/**
 * Loads `entry` (an ESM bundle, chunks resolved next to it) into a fresh `node:vm` realm with the web
 * platform's globals only, runs `check` there, and prints its JSON result. Runs in a child process: vm
 * modules need `--experimental-vm-modules`.
 */
const VM_RUNNER = String.raw`
import vm from "node:vm";
import { readFile } from "node:fs/promises";
import { fileURLToPath, pathToFileURL } from "node:url";

const [entry, fakeUrl] = process.argv.slice(2);
// What a browser or an edge worker has. Deliberately absent: process, Buffer, global, require, setImmediate.
const WEB_GLOBALS = ["console", "URL", "URLSearchParams", "TextEncoder", "TextDecoder", "AbortController", "AbortSignal",
  "setTimeout", "clearTimeout", "setInterval", "clearInterval", "queueMicrotask", "structuredClone", "fetch", "Headers",
  "Request", "Response", "FormData", "Blob", "File", "ReadableStream", "WritableStream", "TransformStream",
  "TextEncoderStream", "TextDecoderStream", "crypto", "atob", "btoa", "Event", "EventTarget", "DOMException", "performance"];
const sandbox = {};
for (const name of WEB_GLOBALS) sandbox[name] = globalThis[name];
const context = vm.createContext(sandbox, { name: "browser-like realm" });
vm.runInContext("globalThis.self = globalThis;", context);

const modules = new Map();
async function load(url) {
  let module = modules.get(url);
  if (!module) {
    module = new vm.SourceTextModule(await readFile(fileURLToPath(url), "utf8"), {
      context,
      identifier: url,
      importModuleDynamically: async (specifier, referrer) => {
        const target = await link(specifier, referrer);
        await target.link(link);
        await target.evaluate();
        return target;
      },
    });
    modules.set(url, module);
  }
  return module;
}
// A bundle with nothing external only imports its own chunks.
async function link(specifier, referrer) {
  if (!/^(\.\.?\/|file:)/.test(specifier)) throw new Error("the bundle imports " + specifier + " (not one of its chunks)");
  return load(new URL(specifier, referrer.identifier).href);
}

// The check runs inside the realm: objects it makes and reads are the realm's own.
const checkSource = [
  "import { MeteredChatModel, priceUsage } from " + JSON.stringify(pathToFileURL(entry).href) + ";",
  "const result = { process: typeof process, Buffer: typeof Buffer, require: typeof require, global: typeof global };",
  'result.nanoUsd = priceUsage({ input_tokens: 1000, output_tokens: 500, total_tokens: 1500 }, "gpt-4o-mini").nanoUsd;',
  'const model = new MeteredChatModel({ model: "gpt-4o-mini", apiKey: "test", maxRetries: 0, configuration: { baseURL: ' + JSON.stringify(fakeUrl) + " } });",
  "result.isMetered = model instanceof MeteredChatModel;",
  'const message = await model.invoke("Hello");',
  "result.content = message.content;",
  "result.totalUsd = message.response_metadata?.cost?.totalUsd ?? null;",
  "globalThis.__result = JSON.stringify(result);",
].join("\n");
const check = new vm.SourceTextModule(checkSource, { context, identifier: "file:///check.mjs" });
await check.link(link);
await check.evaluate();
console.log(vm.runInContext("globalThis.__result", context));
`;

function runNode(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code, stdout, stderr }));
  });
}

describe("the root entry in a browser bundle", () => {
  let browser: Bundle;
  let server: FakeOpenAI;

  beforeAll(async () => {
    [browser, server] = await Promise.all([bundle(APP, "browser"), startFakeOpenAI()]);
  }, BUILD_TIMEOUT);

  afterAll(async () => {
    await server?.close();
    if (browser) await rm(browser.dir, { recursive: true, force: true });
  });

  it("builds with platform browser, nothing external, without errors or warnings", () => {
    expect(browser.result.errors).toEqual([]);
    expect(browser.result.warnings.map((w) => w.text)).toEqual([]);
    const bundled = Object.keys(browser.result.metafile.inputs);
    for (const pkg of ["@langchain/core", "@langchain/openai", "openai", "zod", "@pydantic/genai-prices", "js-tiktoken"]) {
      expect(bundled.some((input) => input.includes(`node_modules/${pkg}/`)), `${pkg} is bundled`).toBe(true);
    }
  });

  it("imports no Node built-in and nothing external", () => {
    const { inputs, outputs } = browser.result.metafile;
    // esbuild records every import (static, dynamic, require) of every bundled module, as written and as
    // resolved; a built-in mapped away by a package's "browser" field shows up as "(disabled):…".
    const offenders = Object.entries(inputs).flatMap(([file, input]) =>
      input.imports
        .filter((imp) => [imp.path, imp.original ?? ""].some((spec) => NODE_BUILTINS.has(spec) || spec.startsWith("(disabled)")) || imp.external)
        .map((imp) => `${file} -> ${imp.original ?? imp.path}`),
    );
    expect(offenders).toEqual([]);
    const external = Object.values(outputs).flatMap((out) => out.imports.filter((imp) => imp.external).map((imp) => imp.path));
    expect(external).toEqual([]);
  });

  it(
    "imports and prices a call where process is undefined (a node:vm realm with web globals only)",
    async () => {
      const runner = join(browser.dir, "vm-runner.mjs");
      await writeFile(runner, VM_RUNNER);
      server.script({ model: "gpt-4o-mini-2024-07-18", usage: { promptTokens: 1000, completionTokens: 500 } });
      const before = server.requests.length;
      const run = await runNode(["--no-warnings", "--experimental-vm-modules", runner, resolve(ROOT, browser.entry), server.url], browser.dir);
      expect(run.code, run.stderr).toBe(0);
      const result = JSON.parse(run.stdout.trim().split("\n").pop() ?? "null") as Record<string, unknown>;
      expect(result).toEqual({
        process: "undefined",
        Buffer: "undefined",
        require: "undefined",
        global: "undefined",
        nanoUsd: 450_000,
        isMetered: true,
        content: "Hello from the fake server.",
        totalUsd: 0.00045,
      });
      expect(server.requests.length).toBe(before + 1);
    },
    60_000,
  );
});

describe("the tokenizer's ranks in a consumer's bundle", () => {
  // A consumer that uses the hard cap (the path that counts tokens), bundled for each platform.
  const CONSUMER = `import { MeteredChatModel } from ${JSON.stringify(INDEX)};
export const model = new MeteredChatModel({ model: "gpt-4o-mini", apiKey: "test", budget: { limitUsd: 1, hardCap: true } });`;

  it.each<Platform>(["browser", "node"])(
    "%s: the ranks are a chunk of their own, loaded by dynamic import, not in the main chunk",
    async (platform) => {
      const { dir, result, entry } = await bundle(CONSUMER, platform, true);
      try {
        const { outputs } = result.metafile;
        const holding = (path: string) => Object.keys(outputs[path]?.inputs ?? {}).filter((input) => RANKS.test(input));
        const initial = initialChunks(result.metafile, entry);
        for (const path of initial) expect(holding(path), `${path} is loaded up front`).toEqual([]);

        const rankChunks = Object.keys(outputs).filter((path) => holding(path).length > 0);
        expect(rankChunks.length).toBeGreaterThanOrEqual(1);
        const o200k = rankChunks.find((path) => holding(path).some((input) => input.includes("o200k_base")));
        expect(o200k, "o200k_base is bundled").toBeDefined();
        const dynamicTargets = Object.values(outputs).flatMap((out) => out.imports.filter((imp) => imp.kind === "dynamic-import").map((imp) => imp.path));
        for (const chunk of rankChunks) expect(dynamicTargets).toContain(chunk);

        // The ranks dwarf everything else: keeping them lazy is what keeps the main chunk small.
        const initialBytes = [...initial].reduce((sum, path) => sum + (outputs[path]?.bytes ?? 0), 0);
        expect(outputs[o200k!]!.bytes).toBeGreaterThan(2_000_000);
        expect(initialBytes).toBeLessThan(outputs[o200k!]!.bytes);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    BUILD_TIMEOUT,
  );
});
