import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { MeterEntry } from "../../src/budget/meter-sink.js";
import { main } from "../../src/cli/cli.js";

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in process, capturing its output. */
export async function run(argv: string[], options: { tty?: boolean } = {}): Promise<Ran> {
  let stdout = "";
  let stderr = "";
  const code = await main(argv, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text), isTTY: options.tty ?? false },
  });
  return { code, stdout, stderr };
}

/** A temp dir for one suite; `cleanup()` removes it. */
export async function tempDir(): Promise<{ dir: string; path: (name: string) => string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "langchain-metered-cli-"));
  return { dir, path: (name) => join(dir, name), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export const toJsonl = (entries: readonly MeterEntry[]) => entries.map((e) => `${JSON.stringify(e)}\n`).join("");

export async function writeLog(path: string, entries: readonly MeterEntry[]): Promise<void> {
  const text = toJsonl(entries);
  await writeFile(path, path.endsWith(".gz") ? gzipSync(text) : text);
}

/** The report's JSON, with `costNanoUsd` read exactly (as BigInt). */
export interface ReportJson {
  lines: number;
  malformedLines: number;
  total: { calls: number; heldCalls: number; inputTokens: number; outputTokens: number; costUsd: string; costNanoUsd: bigint };
  groups: Array<{ group: Record<string, string>; calls: number; heldCalls: number; inputTokens: number; outputTokens: number; costUsd: string; costNanoUsd: bigint }>;
}

export function parseReport(text: string): ReportJson {
  // Integer literals of costNanoUsd may pass 2^53: read them as strings first.
  return JSON.parse(text.replace(/"costNanoUsd": (\d+)/g, '"costNanoUsd": "$1"'), (key, value: unknown) =>
    key === "costNanoUsd" ? BigInt(value as string) : value,
  ) as ReportJson;
}
