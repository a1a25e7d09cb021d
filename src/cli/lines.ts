import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { CliError } from "./errors.js";

/**
 * Reads a file line by line (gunzipped when its name ends in `.gz`), calling `onLine` synchronously for each
 * line, in order, with its 1-based number. Memory: one read chunk (64 KiB) plus the longest line.
 * `onChunk` gets the bytes of the file read so far (compressed bytes for `.gz`), after each chunk.
 */
export async function eachLine(path: string, onLine: (line: string, lineNo: number) => void, onChunk?: (bytesRead: number) => void): Promise<void> {
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    throw new CliError(
      error.code === "ENOENT"
        ? `${path}: no such file. Pass the path of a JSONL metering log (what JsonlMeterSink writes), e.g. usage.jsonl or usage.jsonl.gz.`
        : `${path}: can't read it (${error.code ?? error.message}).`,
    );
  });
  if (info.isDirectory()) throw new CliError(`${path} is a directory: pass the log files in it (e.g. ${path}/*.jsonl).`);

  const file = createReadStream(path, { highWaterMark: 1 << 16 });
  let source: Readable = file;
  const gz = path.endsWith(".gz");
  if (gz) {
    const gunzip = createGunzip();
    file.on("error", (error) => gunzip.destroy(error));
    source = file.pipe(gunzip);
  }
  source.setEncoding("utf8");

  let rest = "";
  let lineNo = 0;
  try {
    for await (const chunk of source as AsyncIterable<string>) {
      const text = rest === "" ? chunk : rest + chunk;
      let start = 0;
      for (let nl = text.indexOf("\n"); nl !== -1; nl = text.indexOf("\n", start)) {
        onLine(text.slice(start, nl), ++lineNo);
        start = nl + 1;
      }
      rest = start === 0 ? text : text.slice(start);
      onChunk?.(file.bytesRead);
    }
  } catch (error) {
    if (error instanceof CliError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (gz && typeof code === "string" && code.startsWith("Z_")) {
      throw new CliError(`${path}: not a valid gzip file (${(error as Error).message}). Only names ending in .gz are gunzipped.`);
    }
    throw new CliError(`${path}: read failed (${(error as Error).message}).`);
  } finally {
    file.destroy();
  }
  // A last line without its newline (a writer killed mid-append) is still read; if it is cut, it fails to parse.
  if (rest !== "") onLine(rest, ++lineNo);
}
