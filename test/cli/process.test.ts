/**
 * The CLI as a real process: `node --import tsx src/cli/main.ts` (exit codes, stdout/stderr), and the bin as the
 * package ships it: package.json "bin" → dist/cli.js, built by tsup from src/cli/main.ts with its hashbang and
 * the executable bit (built here, with this repo's tsup config, into a cache dir inside the repo so that its
 * imports resolve from node_modules).
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { readFile, rm, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { build, type Options } from "tsup";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import tsupConfig from "../../tsup.config.js";
import { lastLineTotals, meterLog, quotaValue } from "./fixture.js";
import { parseReport, tempDir, writeLog } from "./run.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const exec = promisify(execFile);

async function node(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, args, { cwd: ROOT, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let tmp: Awaited<ReturnType<typeof tempDir>>;
const entries = [...meterLog({ calls: 2000, seed: 11 })];

beforeAll(async () => {
  tmp = await tempDir();
  await writeLog(tmp.path("usage.jsonl.gz"), entries);
});
afterAll(() => tmp?.cleanup());

describe("node --import tsx src/cli/main.ts", () => {
  it("report: exact totals per tenant on stdout, exit 0", async () => {
    const { code, stdout, stderr } = await node(["--import", "tsx", "src/cli/main.ts", "report", tmp.path("usage.jsonl.gz"), "--by", "tenant", "--format", "json"]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const report = parseReport(stdout);
    const ref = lastLineTotals(entries, (e) => quotaValue(e, "tenant"));
    expect(report.total.costNanoUsd).toBe(ref.total);
    for (const group of report.groups) expect(group.costNanoUsd).toBe(ref.groups.get(group.group.tenant!)?.nano);
  });

  it("a usage mistake: exit 2 and what to do on stderr; an unknown model: exit 1 with UnknownModelPriceError's message", async () => {
    const typo = await node(["--import", "tsx", "src/cli/main.ts", "prices", "gpt-4o"]);
    expect(typo.code).toBe(2);
    expect(typo.stdout).toBe("");
    expect(typo.stderr).toContain('Unknown command "prices" (did you mean "price"?)');
    const unknown = await node(["--import", "tsx", "src/cli/main.ts", "price", "no-such-model-xyz"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('No price is known for model "no-such-model-xyz"');
  });
});

describe("the bin", () => {
  const outDir = join(ROOT, "node_modules", ".cache", "langchain-metered-cli-test");
  const config = tsupConfig as Options & { entry: Record<string, string> };

  beforeAll(async () => {
    await build({ ...config, config: false, entry: { cli: config.entry.cli! }, outDir, dts: false, sourcemap: false, silent: true, clean: true });
  }, 120_000);
  afterAll(() => rm(outDir, { recursive: true, force: true }));

  it("package.json's bin is dist/cli.js, tsup's `cli` entry is src/cli/main.ts", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { bin: Record<string, string>; files: string[] };
    expect(pkg.bin).toEqual({ "langchain-metered": "./dist/cli.js" });
    expect(config.entry.cli).toBe("src/cli/main.ts");
  });

  it("is built with its hashbang (that entry only) and the executable bit, and runs", async () => {
    const cli = join(outDir, "cli.js");
    expect((await readFile(cli, "utf8")).startsWith("#!/usr/bin/env node\n")).toBe(true);
    expect((await stat(cli)).mode & 0o111).not.toBe(0);
    const { code, stdout } = await (async () => {
      try {
        return { code: 0, ...(await exec(cli, ["price", "gpt-4o-mini", "--format", "json"], { cwd: ROOT })) };
      } catch (error) {
        return { code: (error as { code: number }).code, stdout: "" };
      }
    })();
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ model: "gpt-4o-mini", provider: "openai", rates: expect.arrayContaining([{ kind: "input", usdPerMtok: "0.15", tiers: [] }]) });
  });
});
