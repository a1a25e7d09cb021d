/**
 * `"sideEffects": false` has to be true (issue 10, "No side effects at import"): importing any entry point
 * writes nothing to `process.env`, adds no global, patches nothing in LangChain and registers nothing with
 * it. Each entry is imported fresh, from `src/` (through tsx), in a child process of its own:
 *
 * 1. `process.env` is replaced first thing by a proxy that records every write, delete or define (so a write
 *    that is undone, or that sets a value already there, is still caught), and snapshot right before the import;
 * 2. the entry's peers (LangChain, the Langfuse SDK, ioredis, `langchain`) are loaded before the snapshot of
 *    globals and LangChain's patchable functions, so what they do at their own import isn't blamed on us; the
 *    async-context store LangChain keeps context variables (and configure hooks) in is spied on, if one is set up;
 * 3. a plain `ChatOpenAI.invoke` against the loopback fake gets no run manager (`_generate`'s third argument)
 *    before the import, and still none after it. A control call with a handler does get one, so the probe
 *    can see a run manager when there is one.
 */
import { spawn } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeOpenAI, startFakeOpenAI } from "../support/openai-server.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Every entry point in package.json's `exports`, with the peers a user has loaded alongside it. */
const ENTRIES: Array<{ entry: string; source: string; peers: string[] }> = [
  { entry: "langchain-metered", source: "src/index.ts", peers: [] },
  { entry: "langchain-metered/redis", source: "src/integrations/redis.ts", peers: ["ioredis"] },
  { entry: "langchain-metered/langfuse", source: "src/integrations/langfuse.ts", peers: ["@langfuse/langchain"] },
  { entry: "langchain-metered/langfuse-langchain", source: "src/integrations/langfuse-langchain.ts", peers: ["langfuse-langchain"] },
  { entry: "langchain-metered/jsonl", source: "src/integrations/jsonl.ts", peers: [] },
  { entry: "langchain-metered/cloudevents", source: "src/integrations/cloudevents.ts", peers: [] },
  { entry: "langchain-metered/agents", source: "src/scope/budget-middleware.ts", peers: ["langchain"] },
];

interface Report {
  envWrites: string[];
  /** Writes while LangChain and the entry's peers loaded, and by the probe's calls: not ours, reported for the record. */
  envWritesBeforeImport: string[];
  envChanged: string[];
  globalsAdded: string[];
  langchainPatched: string[];
  contextCalls: string[];
  contextVariables: string[];
  runManagerBefore: string;
  runManagerAfter: string;
  controlRunManager: string;
  exports: string[];
}

/** The child: ESM evaluated with tsx's loader (for the .ts sources), cwd = the repo (for bare imports). */
const CHILD = String.raw`
// Writes by phase: "setup" (LangChain and the peers loading, the probe's calls) or "import" (the entry).
let phase = "setup";
const envWrites = { setup: [], import: [] };
const realEnv = process.env;
process.env = new Proxy(realEnv, {
  set(target, key, value) { envWrites[phase].push("set " + String(key)); return Reflect.set(target, key, value); },
  defineProperty(target, key, descriptor) { envWrites[phase].push("define " + String(key)); return Reflect.defineProperty(target, key, descriptor); },
  deleteProperty(target, key) { envWrites[phase].push("delete " + String(key)); return Reflect.deleteProperty(target, key); },
});

const [source, peersJson, fakeUrl] = process.argv.slice(-3);
const { ChatOpenAI } = await import("@langchain/openai");
const { BaseChatModel } = await import("@langchain/core/language_models/chat_models");
const { Runnable, RunnableSequence, RunnableMap, RunnableLambda } = await import("@langchain/core/runnables");
const { AsyncLocalStorageProviderSingleton, _CONTEXT_VARIABLES_KEY } = await import("@langchain/core/singletons");
const { CallbackManager } = await import("@langchain/core/callbacks/manager");
for (const peer of JSON.parse(peersJson)) await import(peer);

// What a library could patch to hook into every run, by identity.
const patchable = {
  "CallbackManager.configure": [CallbackManager, "configure"],
  "AsyncLocalStorageProviderSingleton.runWithConfig": [AsyncLocalStorageProviderSingleton, "runWithConfig"],
  "AsyncLocalStorageProviderSingleton.getRunnableConfig": [AsyncLocalStorageProviderSingleton, "getRunnableConfig"],
  "AsyncLocalStorageProviderSingleton.initializeGlobalInstance": [AsyncLocalStorageProviderSingleton, "initializeGlobalInstance"],
  "AsyncLocalStorageProviderSingleton.getInstance": [AsyncLocalStorageProviderSingleton, "getInstance"],
};
for (const [name, proto] of [["Runnable", Runnable.prototype], ["RunnableSequence", RunnableSequence.prototype], ["RunnableMap", RunnableMap.prototype],
  ["RunnableLambda", RunnableLambda.prototype], ["BaseChatModel", BaseChatModel.prototype], ["ChatOpenAI", ChatOpenAI.prototype]]) {
  for (const method of ["invoke", "stream", "batch", "streamEvents", "_streamIterator", "generate", "_generate", "_generateUncached", "_streamResponseChunks"]) {
    if (Object.prototype.hasOwnProperty.call(proto, method)) patchable[name + ".prototype." + method] = [proto, method];
  }
}
const originals = Object.fromEntries(Object.entries(patchable).map(([name, [owner, key]]) => [name, owner[key]]));
const globalKeys = new Set(Reflect.ownKeys(globalThis));

// LangChain's async-context store, where registerConfigureHook/setContextVariable write (with enterWith).
const ALS_KEY = Symbol.for("ls:tracing_async_local_storage");
const contextCalls = [];
const als = globalThis[ALS_KEY];

/** The run manager (or "none") a plain ChatOpenAI's _generate gets for one invoke. */
async function runManagerOf(options) {
  const model = new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "test", maxRetries: 0, configuration: { baseURL: fakeUrl } });
  let seen = "not called";
  const generate = model._generate;
  model._generate = function (messages, callOptions, runManager) {
    seen = runManager === undefined ? "none" : (runManager?.constructor?.name ?? typeof runManager);
    return generate.call(this, messages, callOptions, runManager);
  };
  await model.invoke("Hello", options);
  return seen;
}

const runManagerBefore = await runManagerOf();
const controlRunManager = await runManagerOf({ callbacks: [{ handleLLMStart() {} }] });

const envBefore = { ...realEnv };
if (als) {
  for (const method of ["enterWith", "run"]) {
    const original = als[method];
    als[method] = function (...args) { contextCalls.push(method); return original.apply(this, args); };
  }
}
phase = "import";
const entry = await import(source);
phase = "after";
envWrites.after = [];
const envChanged = [...new Set([...Object.keys(envBefore), ...Object.keys(realEnv)])].filter((key) => envBefore[key] !== realEnv[key]);
if (als) for (const method of ["enterWith", "run"]) delete als[method];
const runManagerAfter = await runManagerOf();
const store = AsyncLocalStorageProviderSingleton.getInstance().getStore();
const variables = store?.[_CONTEXT_VARIABLES_KEY];
process.env = realEnv;
console.log(JSON.stringify({
  envWrites: envWrites.import,
  envWritesBeforeImport: envWrites.setup,
  envChanged,
  globalsAdded: Reflect.ownKeys(globalThis).filter((key) => !globalKeys.has(key)).map(String),
  langchainPatched: Object.entries(patchable).filter(([name, [owner, key]]) => owner[key] !== originals[name]).map(([name]) => name),
  contextCalls,
  contextVariables: variables ? Reflect.ownKeys(variables).map(String) : [],
  runManagerBefore,
  runManagerAfter,
  controlRunManager,
  exports: Object.keys(entry).sort(),
}));
`;

/** The child's environment: none of the switches that would give plain calls a run manager (tracing). */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(LANGCHAIN_|LANGSMITH_|LANGFUSE_|OTEL_)/.test(key)) continue;
    env[key] = value;
  }
  return env;
}

function importInChild(source: string, peers: string[], fakeUrl: string): Promise<Report> {
  return new Promise((resolvePromise, reject) => {
    const args = ["--import", "tsx", "--input-type=module", "--eval", CHILD, "--", resolve(ROOT, source), JSON.stringify(peers), fakeUrl];
    const child = spawn(process.execPath, args, { cwd: ROOT, env: childEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => {
      const line = stdout.trim().split("\n").pop() ?? "";
      if (code !== 0 || !line.startsWith("{")) return reject(new Error(`import of ${source} failed (exit ${code}):\n${stdout}${stderr}`));
      resolvePromise(JSON.parse(line) as Report);
    });
  });
}

describe("importing an entry point has no side effects", () => {
  let server: FakeOpenAI;
  beforeAll(async () => {
    server = await startFakeOpenAI();
  });
  afterAll(async () => {
    await server?.close();
  });

  it.each(ENTRIES)(
    "$entry: process.env untouched, no globals, nothing patched or registered in LangChain",
    async ({ source, peers }) => {
      const report = await importInChild(source, peers, server.url);
      expect(report.exports.length, "the entry exports something").toBeGreaterThan(0);
      expect(report.envWrites, "process.env writes during the import").toEqual([]);
      expect(report.envChanged, "process.env keys changed by the import").toEqual([]);
      expect(report.globalsAdded, "globals added by the import").toEqual([]);
      expect(report.langchainPatched, "LangChain functions replaced by the import").toEqual([]);
      expect(report.contextCalls, "LangChain's async-context store written by the import").toEqual([]);
      expect(report.contextVariables, "LangChain context variables (configure hooks …) after the import").toEqual([]);
      // The probe sees a run manager when there is one …
      expect(report.controlRunManager).toBe("CallbackManagerForLLMRun");
      // … and a plain ChatOpenAI gets none, before the import and after it.
      expect(report.runManagerBefore).toBe("none");
      expect(report.runManagerAfter).toBe("none");
    },
    60_000,
  );
});
