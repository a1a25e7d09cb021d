/**
 * The "registry user" check: install the packed tarball the way a user would and make one priced call.
 *
 * 1. `npm pack` the repo (its `prepack` builds dist/) into a temp dir and check the tarball's contents.
 * 2. Start the loopback fake OpenAI server.
 * 3. For an ESM project (`import`) and a CommonJS project (`require`), each in its own temp dir:
 *    a. install the tarball plus the required peers (@langchain/core, @langchain/openai) from the npm cache, and
 *       run one `invoke` against the fake server with a `JsonlMeterSink` (`langchain-metered/jsonl`) as its
 *       metering log: `response_metadata.cost.totalUsd` and the log's line are exactly 0.00045 (1000 input ×
 *       $0.15/1M + 500 output × $0.60/1M). `langchain` (an optional peer) isn't installed yet: the root and
 *       jsonl entries must not need it;
 *    b. install `langchain` and run a `createAgent` agent with `budgetMiddleware` (`langchain-metered/agents`)
 *       and a limit below one call's cost: the call is priced by the middleware and the run stops with the root
 *       entry's `BudgetExceededError` (`instanceof` holds across entries: they share one core);
 *    and check each entry resolved to the right build (dist/<entry>.js for ESM, dist/<entry>.cjs for CJS).
 *
 * Prints one `smoke: … ok` line per check; exits 1 with a `smoke: FAIL …` message on the first failure.
 * Temp dirs and the server are always cleaned up (set SMOKE_KEEP=1 to keep the temp dirs for debugging).
 *
 * Usage: npm run smoke   (or: npx tsx scripts/smoke.ts)
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startFakeOpenAI, type FakeOpenAI } from "../test/support/openai-server.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DEV_DEPENDENCIES = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { devDependencies: Record<string, string> }).devDependencies;
/** Installed at the versions the repo is tested with: the required peers, then `langchain` for the agents entry. */
const pinned = (name: string): string => `${name}@${DEV_DEPENDENCIES[name] ?? "latest"}`;
const PEERS = [pinned("@langchain/core"), pinned("@langchain/openai")];
const AGENT_PEERS = [pinned("langchain")];
const AGENT_LIMIT_USD = 0.0001;
const EXPECTED_USD = 0.00045;
const SERVED_MODEL = "gpt-4o-mini-2024-07-18";
const USAGE = { promptTokens: 1000, completionTokens: 500 };
/** Files the tarball must carry: the ESM and CJS builds and their types, for every entry of the `exports` map. */
const ENTRIES = ["index", "redis", "langfuse", "langfuse-langchain", "jsonl", "agents"];
const REQUIRED_FILES = ["package.json", ...ENTRIES.flatMap((e) => [".js", ".cjs", ".d.ts", ".d.cts"].map((ext) => `dist/${e}${ext}`))];

class SmokeError extends Error {
  constructor(message: string, readonly output = "") {
    super(message);
  }
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command asynchronously (the fake server lives in this process and must keep answering). */
function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? childEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new SmokeError(`\`${cmd} ${args.join(" ")}\` timed out after ${opts.timeoutMs / 1000}s`, stdout + stderr));
    }, opts.timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(new SmokeError(`could not start \`${cmd}\`: ${err.message}`));
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

async function mustRun(what: string, cmd: string, args: string[], opts: Parameters<typeof run>[2]): Promise<RunResult> {
  const result = await run(cmd, args, opts);
  if (result.code !== 0) {
    throw new SmokeError(`${what}: \`${cmd} ${args.join(" ")}\` exited with ${result.code}`, result.stdout + result.stderr);
  }
  return result;
}

/**
 * The environment for child processes, minus what `npm run smoke` injected about *this* package
 * (npm_package_*, npm_lifecycle_*, npm_config_local_prefix …), so a nested `npm install` in a temp
 * project can't mistake the repo for the project it installs into. Global npm settings (cache, registry) stay.
 */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_(package_|lifecycle_|config_local_prefix$)/i.test(key) || key === "INIT_CWD") continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

async function packTarball(dest: string): Promise<string> {
  // `prepack` runs the build, so the tarball always carries a fresh dist/.
  await mustRun("npm pack", "npm", ["pack", "--pack-destination", dest], { cwd: ROOT, timeoutMs: 5 * 60_000 });
  const tarballs = (await readdir(dest)).filter((f) => f.endsWith(".tgz"));
  if (tarballs.length !== 1) throw new SmokeError(`npm pack: expected one .tgz in ${dest}, found ${tarballs.length}`);
  const tarball = join(dest, tarballs[0]!);

  const listing = await mustRun("tarball contents", "tar", ["-tzf", tarball], { cwd: dest, timeoutMs: 60_000 });
  const files = listing.stdout
    .split("\n")
    .filter(Boolean)
    .map((f) => f.replace(/^package\//, ""));
  const missing = REQUIRED_FILES.filter((f) => !files.includes(f));
  if (missing.length) throw new SmokeError(`tarball is missing ${missing.join(", ")}`, files.join("\n"));
  const stray = files.filter((f) => /^(src|test|scripts|node_modules)\//.test(f));
  if (stray.length) throw new SmokeError(`tarball carries files it should not: ${stray.slice(0, 5).join(", ")}`);
  console.log(`smoke: pack ok (${tarballs[0]}, ${files.length} files)`);
  return tarball;
}

const ESM_SOURCE = `import { readFile } from "node:fs/promises";
import { MeteredChatModel } from "langchain-metered";
import { JsonlMeterSink } from "langchain-metered/jsonl";

const sink = new JsonlMeterSink("usage.jsonl");
const model = new MeteredChatModel({
  model: "gpt-4o-mini",
  apiKey: "test",
  maxRetries: 0,
  configuration: { baseURL: process.env.FAKE_OPENAI_URL },
  budget: { meter: sink },
});
const message = await model.invoke("Hello");
await sink.flush();
const lines = (await readFile("usage.jsonl", "utf8")).trim().split("\\n");
console.log(JSON.stringify({
  totalUsd: message.response_metadata?.cost?.totalUsd ?? null,
  loggedUsd: JSON.parse(lines.at(-1)).costUsd,
  entries: { index: import.meta.resolve("langchain-metered"), jsonl: import.meta.resolve("langchain-metered/jsonl") },
}));
`;

const CJS_SOURCE = `const { readFile } = require("node:fs/promises");
const { MeteredChatModel } = require("langchain-metered");
const { JsonlMeterSink } = require("langchain-metered/jsonl");

async function main() {
  const sink = new JsonlMeterSink("usage.jsonl");
  const model = new MeteredChatModel({
    model: "gpt-4o-mini",
    apiKey: "test",
    maxRetries: 0,
    configuration: { baseURL: process.env.FAKE_OPENAI_URL },
    budget: { meter: sink },
  });
  const message = await model.invoke("Hello");
  await sink.flush();
  const lines = (await readFile("usage.jsonl", "utf8")).trim().split("\\n");
  console.log(JSON.stringify({
    totalUsd: message.response_metadata?.cost?.totalUsd ?? null,
    loggedUsd: JSON.parse(lines.at(-1)).costUsd,
    entries: { index: require.resolve("langchain-metered"), jsonl: require.resolve("langchain-metered/jsonl") },
  }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
`;

/** The agent check's body, the same for both flavors once the imports are in place. */
const AGENT_BODY = `
  const model = new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "test", maxRetries: 0, configuration: { baseURL: process.env.FAKE_OPENAI_URL } });
  const agent = createAgent({ model, tools: [], middleware: [budgetMiddleware({ limitUsd: ${AGENT_LIMIT_USD}, exitBehavior: "error" })] });
  let stopped = null;
  try {
    await agent.invoke({ messages: [{ role: "user", content: "Hello" }] });
  } catch (error) {
    stopped = error;
  }
  console.log(JSON.stringify({
    middleware: typeof budgetMiddleware,
    stoppedBy: stopped?.name ?? String(stopped),
    sameClass: stopped instanceof BudgetExceededError,
    limitUsd: stopped?.limitUsd ?? null,
    spentUsd: stopped?.spentUsd ?? null,
    entries: { agents: RESOLVE("langchain-metered/agents") },
  }));
`;

const ESM_AGENT_SOURCE = `import { ChatOpenAI } from "@langchain/openai";
import { createAgent } from "langchain";
import { BudgetExceededError } from "langchain-metered";
import { budgetMiddleware } from "langchain-metered/agents";
${AGENT_BODY.replace("RESOLVE", "import.meta.resolve")}`;

const CJS_AGENT_SOURCE = `const { ChatOpenAI } = require("@langchain/openai");
const { createAgent } = require("langchain");
const { BudgetExceededError } = require("langchain-metered");
const { budgetMiddleware } = require("langchain-metered/agents");

async function main() {
${AGENT_BODY.replace("RESOLVE", "require.resolve")}
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
`;

interface Flavor {
  name: "esm" | "cjs";
  type: "module" | "commonjs";
  source: string;
  agentSource: string;
  /** The file the exports map must pick for an entry in this flavor. */
  build: (entry: string) => RegExp;
}

const FLAVORS: Flavor[] = [
  { name: "esm", type: "module", source: ESM_SOURCE, agentSource: ESM_AGENT_SOURCE, build: (e) => new RegExp(`/node_modules/langchain-metered/dist/${e}\\.js$`) },
  { name: "cjs", type: "commonjs", source: CJS_SOURCE, agentSource: CJS_AGENT_SOURCE, build: (e) => new RegExp(`/node_modules/langchain-metered/dist/${e}\\.cjs$`) },
];

/** Runs `file` in the flavor's project with one scripted reply; returns its last stdout line, parsed. */
async function runScript(flavor: Flavor, dir: string, file: string, server: FakeOpenAI): Promise<{ parsed: Record<string, unknown>; output: string }> {
  const before = server.requests.length;
  server.script({ model: SERVED_MODEL, usage: USAGE });
  const result = await mustRun(`${flavor.name}: node ${file}`, process.execPath, [file], {
    cwd: dir,
    env: childEnv({ FAKE_OPENAI_URL: server.url }),
    timeoutMs: 60_000,
  });
  const output = result.stdout + result.stderr;
  if (server.requests.length !== before + 1) {
    throw new SmokeError(`${flavor.name}: ${file}: expected 1 request to the fake server, got ${server.requests.length - before}`, output);
  }
  const line = result.stdout.trim().split("\n").pop() ?? "";
  try {
    return { parsed: JSON.parse(line) as Record<string, unknown>, output };
  } catch {
    throw new SmokeError(`${flavor.name}: could not parse the output of ${file}`, output);
  }
}

/** Each entry resolved to this flavor's build. */
function checkEntries(flavor: Flavor, entries: unknown, output: string): void {
  for (const [entry, resolved] of Object.entries((entries ?? {}) as Record<string, unknown>)) {
    const path = typeof resolved === "string" ? resolved.replace(/^file:\/\//, "") : String(resolved);
    if (!flavor.build(entry).test(path)) {
      throw new SmokeError(`${flavor.name}: the ${entry} entry resolved to ${path}, expected ${flavor.build(entry)}`, output);
    }
  }
}

async function checkFlavor(flavor: Flavor, tmp: string, tarball: string, server: FakeOpenAI): Promise<void> {
  const dir = join(tmp, flavor.name);
  await mkdir(dir);
  await writeFile(
    join(dir, "package.json"),
    JSON.stringify({ name: `smoke-${flavor.name}`, version: "0.0.0", private: true, type: flavor.type }, null, 2) + "\n",
  );
  await writeFile(join(dir, "index.js"), flavor.source);
  await writeFile(join(dir, "agent.js"), flavor.agentSource);

  const install = (what: string, packages: string[]) =>
    mustRun(`${flavor.name}: npm install ${what}`, "npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", ...packages], {
      cwd: dir,
      timeoutMs: 5 * 60_000,
    });

  // a. The root entry and the jsonl entry, without the optional peers.
  await install("(tarball + required peers)", [tarball, ...PEERS]);
  const root = await runScript(flavor, dir, "index.js", server);
  checkEntries(flavor, root.parsed.entries, root.output);
  if (root.parsed.totalUsd !== EXPECTED_USD) {
    throw new SmokeError(`${flavor.name}: response_metadata.cost.totalUsd is ${String(root.parsed.totalUsd)}, expected ${EXPECTED_USD}`, root.output);
  }
  if (root.parsed.loggedUsd !== EXPECTED_USD) {
    throw new SmokeError(`${flavor.name}: JsonlMeterSink logged costUsd ${String(root.parsed.loggedUsd)}, expected ${EXPECTED_USD}`, root.output);
  }
  console.log(`smoke: ${flavor.name} ok (${root.parsed.totalUsd}; jsonl logged ${root.parsed.loggedUsd})`);

  // b. The agents entry, once its optional peer `langchain` is installed.
  await install("langchain", AGENT_PEERS);
  const agent = await runScript(flavor, dir, "agent.js", server);
  checkEntries(flavor, agent.parsed.entries, agent.output);
  const { middleware, stoppedBy, sameClass, limitUsd, spentUsd } = agent.parsed;
  if (middleware !== "function" || stoppedBy !== "BudgetExceededError" || sameClass !== true || limitUsd !== AGENT_LIMIT_USD || spentUsd !== EXPECTED_USD) {
    throw new SmokeError(
      `${flavor.name}: budgetMiddleware should stop the agent with the root entry's BudgetExceededError at $${EXPECTED_USD} spent ` +
        `(limit $${AGENT_LIMIT_USD}); got ${JSON.stringify({ middleware, stoppedBy, sameClass, limitUsd, spentUsd })}`,
      agent.output,
    );
  }
  console.log(`smoke: ${flavor.name} agents ok (budgetMiddleware stopped the run at $${String(spentUsd)} of $${AGENT_LIMIT_USD})`);
}

async function main(): Promise<number> {
  const tmp = await mkdtemp(join(tmpdir(), "langchain-metered-smoke-"));
  let server: FakeOpenAI | undefined;
  const cleanup = async (): Promise<void> => {
    await server?.close();
    server = undefined;
    if (process.env.SMOKE_KEEP === "1") console.log(`smoke: kept ${tmp}`);
    else await rm(tmp, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    void cleanup().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  try {
    const tarball = await packTarball(tmp);
    server = await startFakeOpenAI();
    for (const flavor of FLAVORS) await checkFlavor(flavor, tmp, tarball, server);
    console.log("smoke: all checks passed");
    return 0;
  } catch (err) {
    if (err instanceof SmokeError) {
      console.error(`smoke: FAIL ${err.message}`);
      if (err.output.trim()) console.error(`--- output ---\n${err.output.trimEnd()}\n--------------`);
    } else {
      console.error("smoke: FAIL unexpected error:", err);
    }
    return 1;
  } finally {
    await cleanup();
  }
}

process.exitCode = await main();
