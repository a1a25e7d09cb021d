/**
 * The "registry user" check: install the packed tarball the way a user would and make one priced call.
 *
 * 1. `npm pack` the repo (its `prepack` builds dist/) into a temp dir and check the tarball's contents.
 * 2. Start the loopback fake OpenAI server.
 * 3. For an ESM project (`import`) and a CommonJS project (`require`), each in its own temp dir: install the
 *    tarball plus the peers from the npm cache, run one `invoke` against the fake server, and assert that
 *    `response_metadata.cost.totalUsd` is exactly 0.00045 (1000 input × $0.15/1M + 500 output × $0.60/1M)
 *    and that the package resolved to the right build (dist/index.js for ESM, dist/index.cjs for CJS).
 *
 * Prints one `smoke: … ok` line per check; exits 1 with a `smoke: FAIL …` message on the first failure.
 * Temp dirs and the server are always cleaned up (set SMOKE_KEEP=1 to keep the temp dirs for debugging).
 *
 * Usage: npm run smoke   (or: npx tsx scripts/smoke.ts)
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startFakeOpenAI, type FakeOpenAI } from "../test/support/openai-server.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PEERS = ["@langchain/core@1.4.0", "@langchain/openai@1.6.0"];
const EXPECTED_USD = 0.00045;
const SERVED_MODEL = "gpt-4o-mini-2024-07-18";
const USAGE = { promptTokens: 1000, completionTokens: 500 };
/** Files the tarball must carry for both entry points of the `exports` map. */
const REQUIRED_FILES = ["package.json", "dist/index.js", "dist/index.cjs", "dist/index.d.ts", "dist/index.d.cts"];

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

const ESM_SOURCE = `import { MeteredChatModel } from "langchain-metered";

const model = new MeteredChatModel({
  model: "gpt-4o-mini",
  apiKey: "test",
  maxRetries: 0,
  configuration: { baseURL: process.env.FAKE_OPENAI_URL },
});
const message = await model.invoke("Hello");
console.log(JSON.stringify({
  totalUsd: message.response_metadata?.cost?.totalUsd ?? null,
  entry: import.meta.resolve("langchain-metered"),
}));
`;

const CJS_SOURCE = `const { MeteredChatModel } = require("langchain-metered");

async function main() {
  const model = new MeteredChatModel({
    model: "gpt-4o-mini",
    apiKey: "test",
    maxRetries: 0,
    configuration: { baseURL: process.env.FAKE_OPENAI_URL },
  });
  const message = await model.invoke("Hello");
  console.log(JSON.stringify({
    totalUsd: message.response_metadata?.cost?.totalUsd ?? null,
    entry: require.resolve("langchain-metered"),
  }));
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
  /** The build the exports map must pick for this flavor. */
  entry: RegExp;
}

const FLAVORS: Flavor[] = [
  { name: "esm", type: "module", source: ESM_SOURCE, entry: /\/node_modules\/langchain-metered\/dist\/index\.js$/ },
  { name: "cjs", type: "commonjs", source: CJS_SOURCE, entry: /\/node_modules\/langchain-metered\/dist\/index\.cjs$/ },
];

async function checkFlavor(flavor: Flavor, tmp: string, tarball: string, server: FakeOpenAI): Promise<void> {
  const dir = join(tmp, flavor.name);
  await mkdir(dir);
  await writeFile(
    join(dir, "package.json"),
    JSON.stringify({ name: `smoke-${flavor.name}`, version: "0.0.0", private: true, type: flavor.type }, null, 2) + "\n",
  );
  await writeFile(join(dir, "index.js"), flavor.source);

  await mustRun(`${flavor.name}: npm install`, "npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", tarball, ...PEERS], {
    cwd: dir,
    timeoutMs: 5 * 60_000,
  });

  const before = server.requests.length;
  server.script({ model: SERVED_MODEL, usage: USAGE });
  const result = await mustRun(`${flavor.name}: node index.js`, process.execPath, ["index.js"], {
    cwd: dir,
    env: childEnv({ FAKE_OPENAI_URL: server.url }),
    timeoutMs: 60_000,
  });
  const output = result.stdout + result.stderr;
  if (server.requests.length !== before + 1) {
    throw new SmokeError(`${flavor.name}: expected 1 request to the fake server, got ${server.requests.length - before}`, output);
  }

  const line = result.stdout.trim().split("\n").pop() ?? "";
  let parsed: { totalUsd?: unknown; entry?: unknown };
  try {
    parsed = JSON.parse(line) as typeof parsed;
  } catch {
    throw new SmokeError(`${flavor.name}: could not parse the script's output`, output);
  }
  const entry = typeof parsed.entry === "string" ? parsed.entry.replace(/^file:\/\//, "") : String(parsed.entry);
  if (!flavor.entry.test(entry)) {
    throw new SmokeError(`${flavor.name}: "langchain-metered" resolved to ${entry}, expected ${flavor.entry}`, output);
  }
  if (parsed.totalUsd !== EXPECTED_USD) {
    throw new SmokeError(`${flavor.name}: response_metadata.cost.totalUsd is ${String(parsed.totalUsd)}, expected ${EXPECTED_USD}`, output);
  }
  console.log(`smoke: ${flavor.name} ok (${parsed.totalUsd})`);
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
