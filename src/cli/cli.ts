/**
 * `langchain-metered`: the command line. `main(argv, io)` runs one command and resolves to its exit code
 * (0 done, 1 failed, 2 a usage mistake); it never calls `process.exit`, so tests run it in process.
 */
import { stat, writeFile } from "node:fs/promises";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UnknownModelPriceError } from "../pricing/errors.js";
import { CliError, usageError } from "./errors.js";
import { estimate, estimateText, readPrompt } from "./estimate.js";
import { csv, json, stringifyWithBigInts, table } from "./format.js";
import { html } from "./html.js";
import { eachLine } from "./lines.js";
import { lookupPrice, priceText } from "./price.js";
import { BUILTIN_DIMENSIONS, NONE, Tally } from "./tally.js";

export interface CliOutput {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface CliIo {
  stdout: CliOutput;
  stderr: CliOutput;
}

const COMMANDS = ["report", "price", "estimate"] as const;

const HELP = `langchain-metered: reports over the metering log, and prices.

Usage:
  langchain-metered report <usage.jsonl[.gz]>... [--by model] [--since ISO] [--until ISO]
                           [--format table|csv|json] [--html report.html]
  langchain-metered price <model> [--provider p] [--at ISO] [--format text|json]
  langchain-metered estimate <model> --input <file> --max-tokens <n> [--provider p] [--choices n]
                           [--format text|json]

Run \`langchain-metered <command> --help\` for a command's options.
`;

const HELPS: Record<(typeof COMMANDS)[number], string> = {
  report: `langchain-metered report <usage.jsonl[.gz]>... [options]

Sums JSONL metering logs (what JsonlMeterSink writes) in exact nano-USD. Per callId only the last line
counts: a hard-capped call writes "held" (its worst case) and then its outcome; "released" and "refused"
lines are $0; a call whose last line is "held" (its worker died) counts at its held amount. Files ending
in .gz are gunzipped; give a log's files in the order they were written.

Options:
  --by <dims>        Comma-separated: model, provider, day, month (UTC), decision, or the name of a quota
                     key (tenant, user, …: "tenant:acme:month:2026-11" is tenant "acme"). Default: model.
  --since <ISO>      Count calls whose last line is at or after this time (2026-11-01, or 2026-11-01T08:00Z).
  --until <ISO>      … and before this time (exclusive). A date alone is midnight UTC.
  --format <f>       table (default), csv or json.
  --html <file>      Also write a self-contained HTML report (chart, top models and tenants, the table).
  -h, --help         This help.
`,
  price: `langchain-metered price <model> [options]

Prints the rates the library charges for a model (USD per 1M tokens, per kind of token), its long-context
tiers, and where the price comes from (genai-prices' bundled data).

Options:
  --provider <p>     The provider whose price applies (openai, anthropic, google, groq, …); inferred from
                     the model name by default.
  --at <ISO>         The date the price is for (some prices change on a date). Default: now.
  --format <f>       text (default) or json.
  -h, --help         This help.
`,
  estimate: `langchain-metered estimate <model> --input <file> --max-tokens <n> [options]

Prints what a call may cost before it is sent (the library's estimateCost): the prompt counted locally,
at the least (the prompt alone) and at most (what a hard cap holds for it).

Options:
  --input <file>     The prompt: a text file (one user message), or a .json array of messages
                     ([["system", "…"], ["human", "…"]] or [{"role": "user", "content": "…"}]).
  --max-tokens <n>   The most output tokens the call may write.
  --provider <p>     The provider whose price applies; inferred from the model name by default.
  --choices <n>      Choices asked for (n). Default 1.
  --format <f>       text (default) or json.
  -h, --help         This help.
`,
};

/** The io of the real process: stdout and stderr. */
export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr };
}

/** Runs one command line (without `node` and the script); resolves to the exit code. */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  try {
    const [command, ...args] = argv;
    if (command === undefined || command === "--help" || command === "-h" || command === "help") {
      const topic = command === "help" ? args[0] : undefined;
      io.stdout.write(topic && isCommand(topic) ? HELPS[topic] : HELP);
      return command === undefined ? 2 : 0;
    }
    if (!isCommand(command)) {
      const guess = COMMANDS.find((known) => distance(known, command) <= 2);
      throw usageError(`Unknown command "${command}"${guess ? ` (did you mean "${guess}"?)` : ""}. Commands: ${COMMANDS.join(", ")}.`);
    }
    if (args.includes("--help") || args.includes("-h")) {
      io.stdout.write(HELPS[command]);
      return 0;
    }
    if (command === "report") await report(args, io);
    else if (command === "price") price(args, io);
    else await estimateCommand(args, io);
    return 0;
  } catch (error) {
    if (error instanceof CliError) {
      io.stderr.write(`langchain-metered: ${error.message}\n`);
      return error.exitCode;
    }
    if (UnknownModelPriceError.isInstance(error)) {
      io.stderr.write(
        `langchain-metered: ${error.message}\nCheck the model's name as the provider spells it, or pass --provider (openai, anthropic, google, …).\n`,
      );
      return 1;
    }
    io.stderr.write(`langchain-metered: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}

function isCommand(name: string): name is (typeof COMMANDS)[number] {
  return (COMMANDS as readonly string[]).includes(name);
}

function parse<O extends NonNullable<ParseArgsConfig["options"]>>(args: readonly string[], options: O, command: string) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (error) {
    throw usageError(`${command}: ${(error as Error).message}`, command);
  }
}

function format<F extends string>(value: string | undefined, allowed: readonly F[], command: string): F {
  const chosen = value ?? allowed[0]!;
  if (!(allowed as readonly string[]).includes(chosen)) throw usageError(`${command}: --format must be ${allowed.join(", ")}; got "${chosen}".`, command);
  return chosen as F;
}

/** `--since`/`--until`: a date (midnight UTC) or a date-time with a zone, as `toISOString()` gives it. */
export function parseTime(value: string, option: string, command = "report"): string {
  const date = /^\d{4}-\d\d-\d\d$/.test(value);
  const dateTime = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/i.test(value);
  const ms = Date.parse(date ? `${value}T00:00:00Z` : value);
  if ((!date && !dateTime) || Number.isNaN(ms)) {
    throw usageError(
      `${option}: "${value}" is not an ISO date or time. Use a date (2026-11-01, midnight UTC) or a time with its zone (2026-11-01T08:00:00Z, 2026-11-01T09:00+01:00).`,
      command,
    );
  }
  const iso = new Date(ms).toISOString();
  // Date.parse rolls 2026-02-30 over to March: a date that doesn't exist is a mistake, not a day later.
  if (date && iso.slice(0, 10) !== value) throw usageError(`${option}: "${value}" is not a calendar date.`, command);
  return iso;
}

async function report(args: readonly string[], io: CliIo): Promise<void> {
  const { values, positionals: files } = parse(
    args,
    {
      by: { type: "string", multiple: true },
      since: { type: "string" },
      until: { type: "string" },
      format: { type: "string" },
      html: { type: "string" },
    },
    "report",
  );
  if (files.length === 0) throw usageError("report: no log file given. Pass one or more JSONL metering logs: langchain-metered report usage.jsonl", "report");
  const by = [...new Set((values.by ?? ["model"]).flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean))];
  if (by.length === 0) throw usageError(`report: --by needs at least one dimension (${BUILTIN_DIMENSIONS.join(", ")}, or a quota key's name such as tenant).`, "report");
  for (const name of by) {
    if (name.includes(":")) throw usageError(`report: --by "${name}": name a quota key by its first part ("tenant" for tenant:acme:month:2026-11), without ":".`, "report");
  }
  const outputFormat = format(values.format, ["table", "csv", "json"] as const, "report");
  const since = values.since === undefined ? undefined : parseTime(values.since, "--since");
  const until = values.until === undefined ? undefined : parseTime(values.until, "--until");
  if (since !== undefined && until !== undefined && since >= until) throw usageError(`report: --since (${since}) must be before --until (${until}).`, "report");

  const sizes = await Promise.all(files.map((file) => stat(file).then((s) => s.size, () => 0)));
  const totalBytes = sizes.reduce((a, b) => a + b, 0);
  const progress = io.stderr.isTTY === true && totalBytes >= PROGRESS_MIN_BYTES ? new Progress(io.stderr, totalBytes) : undefined;

  const tally = new Tally({ by, ...(since ? { since } : {}), ...(until ? { until } : {}), series: values.html !== undefined });
  let done = 0;
  try {
    for (const [i, file] of files.entries()) {
      await eachLine(
        file,
        (line, lineNo) => tally.add(line, file, lineNo),
        progress && ((read) => progress.update(file, done + read, tally.lines)),
      );
      done += sizes[i] ?? 0;
    }
  } finally {
    progress?.clear();
  }
  tally.finish();

  if (tally.malformed) {
    const where = tally.problems.map((p) => `  ${p.file}:${p.line}: ${p.reason}`).join("\n");
    io.stderr.write(`langchain-metered: skipped ${tally.malformed} malformed line(s) of ${tally.lines}, not counted:\n${where}${tally.malformed > tally.problems.length ? "\n  …" : ""}\n`);
  }
  by.forEach((name, index) => {
    if ((BUILTIN_DIMENSIONS as readonly string[]).includes(name) || tally.total.calls === 0) return;
    if ([...tally.groups.values()].some((group) => group.values[index] !== NONE)) return;
    const seen = [...tally.keyNames].sort();
    io.stderr.write(
      `langchain-metered: no call has a quota key named "${name}" (keys look like ${name}:<value>:<window>); every group shows ${NONE}. ` +
        `${seen.length ? `Quota key names in the log: ${seen.join(", ")}.` : "The log has no quota keys."}\n`,
    );
  });

  const meta = { files, since, until };
  io.stdout.write(outputFormat === "json" ? json(tally, meta) : outputFormat === "csv" ? csv(tally) : table(tally));
  if (values.html !== undefined) {
    const page = html(tally, { ...meta, generatedAt: new Date().toISOString() });
    await writeFile(values.html, page, "utf8").catch((error: NodeJS.ErrnoException) => {
      throw new CliError(`--html ${values.html}: can't write it (${error.code ?? error.message}).`);
    });
    io.stderr.write(`langchain-metered: wrote ${values.html}\n`);
  }
}

/** Logs smaller than this read in about a second: no progress line. */
const PROGRESS_MIN_BYTES = 64 * 1024 * 1024;

class Progress {
  private last = 0;
  private shown = false;
  constructor(
    private readonly out: CliOutput,
    private readonly total: number,
  ) {}
  update(file: string, bytes: number, lines: number): void {
    const now = Date.now();
    if (now - this.last < 250) return;
    this.last = now;
    this.shown = true;
    const percent = Math.min(100, Math.floor((bytes / this.total) * 100));
    this.out.write(`\r\u001b[K${file}: ${percent}% · ${lines.toLocaleString("en-US")} lines`);
  }
  clear(): void {
    if (this.shown) this.out.write("\r\u001b[K");
  }
}

function price(args: readonly string[], io: CliIo): void {
  const { values, positionals } = parse(args, { provider: { type: "string" }, at: { type: "string" }, format: { type: "string" } }, "price");
  const [model, ...extra] = positionals;
  if (!model) throw usageError("price: which model? e.g. langchain-metered price gpt-4o-mini", "price");
  if (extra.length) throw usageError(`price: one model at a time; got also ${extra.map((e) => `"${e}"`).join(", ")}.`, "price");
  const outputFormat = format(values.format, ["text", "json"] as const, "price");
  const at = values.at === undefined ? new Date() : new Date(parseTime(values.at, "--at", "price"));
  const found = lookupPrice(model, values.provider, at);
  io.stdout.write(outputFormat === "json" ? `${JSON.stringify(found, null, 2)}\n` : priceText(found));
}

async function estimateCommand(args: readonly string[], io: CliIo): Promise<void> {
  const { values, positionals } = parse(
    args,
    { input: { type: "string" }, "max-tokens": { type: "string" }, provider: { type: "string" }, choices: { type: "string" }, format: { type: "string" } },
    "estimate",
  );
  const [model, ...extra] = positionals;
  if (!model) throw usageError("estimate: which model? e.g. langchain-metered estimate gpt-4o-mini --input prompt.txt --max-tokens 500", "estimate");
  if (extra.length) throw usageError(`estimate: one model at a time; got also ${extra.map((e) => `"${e}"`).join(", ")}.`, "estimate");
  if (values.input === undefined) throw usageError("estimate: --input <file> is required (the prompt: text, or a .json array of messages).", "estimate");
  if (values["max-tokens"] === undefined) throw usageError("estimate: --max-tokens <n> is required (the most output tokens the call may write).", "estimate");
  const maxTokens = wholeNumber(values["max-tokens"], "--max-tokens", 0);
  const choices = values.choices === undefined ? 1 : wholeNumber(values.choices, "--choices", 1);
  const outputFormat = format(values.format, ["text", "json"] as const, "estimate");
  const input = await readPrompt(values.input);
  const result = await estimate(model, input, { maxTokens, provider: values.provider, choices });
  io.stdout.write(
    outputFormat === "json" ? `${stringifyWithBigInts({ model, provider: values.provider ?? null, input: values.input, choices, ...result })}\n` : estimateText(model, values.input, result, choices),
  );
}

function wholeNumber(value: string, option: string, min: number): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw usageError(`estimate: ${option} must be a whole number ≥ ${min}; got "${value}".`, "estimate");
  return n;
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}
