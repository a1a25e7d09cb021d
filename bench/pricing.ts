/**
 * Pricing throughput and import cost (`npm run bench -- pricing`).
 *
 * 1. Throughput: a mixed batch of ten providers' usage records (LangChain `usage_metadata`, each under its
 *    provider's contract: OpenAI cache reads, Anthropic 5m/1h cache writes, Gemini thoughts and the
 *    long-context tier, Groq, DeepSeek, Together, OpenRouter, Mistral, Azure) priced by `priceUsage`,
 *    against genai-prices' own `calcPrice` on the same records, interleaved ABBA in one run. Each result is
 *    asserted first (ours equals theirs within 1 nano-USD per record, the Gemini thoughts included).
 * 2. Import cost, in fresh child processes (median of several): `import("@pydantic/genai-prices")` alone
 *    (plain node), then, under tsx, our pricing module, the first lookup (name matching + compiling the
 *    price), a first lookup of a second model, and a cached one.
 *
 * The section writes its results into BENCHMARKS.md under "## Pricing throughput and import cost",
 * replacing only that section.
 */
import { execFileSync } from "node:child_process";
import { cpus, loadavg } from "node:os";
import type { UsageMetadata } from "@langchain/core/messages";
import { calcPrice, type Usage as GenaiUsage } from "@pydantic/genai-prices";
import { normalizeUsage, priceUsage, type Usage } from "../src/index.js";
import { genaiProviderId } from "../src/pricing/providers.js";
import { assert, bench, compare, markdown, type Result, type Comparison, section, stats, writeBenchmarksSection } from "./harness.js";

interface Row {
  provider: string;
  model: string;
  usage: Partial<UsageMetadata>;
}

const loose = (usage: unknown) => usage as Partial<UsageMetadata>;

/** Ten calls as LangChain's provider packages report them. */
export const MIXED: readonly Row[] = [
  { provider: "openai", model: "gpt-4o-mini", usage: { input_tokens: 1000, output_tokens: 200, total_tokens: 1200, input_token_details: { cache_read: 200 } } },
  { provider: "openai", model: "o3", usage: { input_tokens: 5000, output_tokens: 3000, total_tokens: 8000, output_token_details: { reasoning: 2000 } } },
  {
    provider: "anthropic",
    model: "claude-sonnet-4-5-20250929",
    usage: loose({ input_tokens: 10_000, output_tokens: 500, total_tokens: 10_500, input_token_details: { cache_read: 2000, cache_creation: 7000, ephemeral_5m_input_tokens: 3000, ephemeral_1h_input_tokens: 4000 } }),
  },
  { provider: "google_genai", model: "gemini-2.5-pro", usage: { input_tokens: 1000, output_tokens: 200, total_tokens: 1500, input_token_details: { cache_read: 400 } } },
  { provider: "google_genai", model: "gemini-2.5-pro", usage: { input_tokens: 250_000, output_tokens: 1000, total_tokens: 252_000, input_token_details: { cache_read: 50_000 } } },
  { provider: "groq", model: "llama-3.3-70b-versatile", usage: { input_tokens: 1000, output_tokens: 500, total_tokens: 1500 } },
  { provider: "deepseek", model: "deepseek-chat", usage: { input_tokens: 1000, output_tokens: 100, total_tokens: 1100, input_token_details: { cache_read: 600 } } },
  { provider: "together", model: "meta-llama/Llama-3.3-70B-Instruct-Turbo", usage: { input_tokens: 1000, output_tokens: 500, total_tokens: 1500 } },
  { provider: "openrouter", model: "openai/gpt-4o-mini", usage: { input_tokens: 1000, output_tokens: 500, total_tokens: 1500 } },
  { provider: "mistral", model: "mistral-small-latest", usage: { input_tokens: 1000, output_tokens: 500, total_tokens: 1500 } },
];

function toGenai(u: Usage): GenaiUsage {
  return {
    input_tokens: u.inputTokens,
    cache_read_tokens: u.cacheReadTokens,
    cache_write_tokens: u.cacheWriteTokens,
    cache_write_1h_tokens: u.cacheWrite1hTokens,
    output_tokens: u.outputTokens,
    output_reasoning_tokens: u.reasoningTokens,
  };
}

// Their input: the same records, already in genai-prices' keys (so the baseline doesn't pay for our normalizing).
const THEIRS = MIXED.map((row) => ({ ...row, genai: toGenai(normalizeUsage(row.usage, row.provider)), id: genaiProviderId(row.provider) }));

const ours = () => MIXED.map((row) => priceUsage(row.usage, row.model, { provider: row.provider }).nanoUsd);
const theirs = () => THEIRS.map((row) => calcPrice(row.genai, row.model, { providerId: row.id })?.total_price ?? NaN);

function checkAgainstGenai(nanos: number[]): void {
  const reference = theirs();
  nanos.forEach((nano, i) => {
    const expected = (reference[i] ?? NaN) * 1e9;
    assert(Math.abs(nano - expected) <= 1, `${MIXED[i]?.model}: ours ${nano} nano-USD vs genai-prices ${expected}`);
  });
  // Gemini's thoughts (the gap to total_tokens) are priced: 300 × $10/M on top of the visible output.
  assert(nanos[3] === 5_800_000, `gemini-2.5-pro with thoughts is $0.0058 (got ${nanos[3]} nano)`);
}

/** One fresh child process: what importing and the first lookups cost, in ms. */
function importChild(): Record<string, number> {
  const genai = Number(
    execFileSync(process.execPath, ["--input-type=module", "-e", 'const t=performance.now(); await import("@pydantic/genai-prices"); console.log(performance.now()-t)'], {
      encoding: "utf8",
    }),
  );
  const script = `
    const ms = () => performance.now();
    let t = ms(); await import("@pydantic/genai-prices"); const genaiTsx = ms() - t;
    t = ms(); const { priceUsage } = await import(${JSON.stringify(new URL("../src/pricing/price-usage.ts", import.meta.url).pathname)}); const ours = ms() - t;
    const u = { input_tokens: 1000, output_tokens: 500, total_tokens: 1500 };
    t = ms(); priceUsage(u, "gpt-4o-mini"); const first = ms() - t;
    t = ms(); priceUsage(u, "claude-sonnet-4-5", { provider: "anthropic" }); const second = ms() - t;
    t = ms(); priceUsage(u, "gpt-4o-mini"); const cached = ms() - t;
    console.log(JSON.stringify({ genaiTsx, ours, first, second, cached }));`;
  const measured = JSON.parse(execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" }));
  return { genai, ...measured };
}

const IMPORT_RUNS = 7;
const IMPORT_ROWS: Array<[string, string]> = [
  ["genai", '`import("@pydantic/genai-prices")`, plain node'],
  ["ours", "then our pricing module (`src/pricing/price-usage.ts` via tsx: zod, overrides, cost math; TS transpiled on the fly)"],
  ["first", 'first lookup: `priceUsage(usage, "gpt-4o-mini")` (match the name in the data, compile the price)'],
  ["second", 'first lookup of a second model: `claude-sonnet-4-5` under "anthropic"'],
  ["cached", "the same lookup again (resolution cached)"],
];

section("pricing", async () => {
  const results: Array<Result | Comparison> = [];
  results.push(
    await compare(
      `mixed batch of ${MIXED.length} providers' usage records (per record)`,
      { label: "genai-prices calcPrice", op: theirs, check: () => {} },
      { label: "priceUsage (normalize + price)", op: ours, check: checkAgainstGenai },
      { blockSize: 200, blocks: 20, callsPerOp: MIXED.length },
    ),
  );
  results.push(
    await bench(
      { label: `priceUsage over the mixed batch (per record)`, op: ours, check: checkAgainstGenai },
      { blockSize: 200, blocks: 20, callsPerOp: MIXED.length, sync: true },
    ),
  );
  results.push(
    await bench(
      { label: `normalizeUsage alone (per record)`, op: () => MIXED.map((row) => normalizeUsage(row.usage, row.provider)), check: (u) => assert(u[3]?.reasoningTokens === 300, "Gemini thoughts recovered") },
      { blockSize: 2000, blocks: 20, callsPerOp: MIXED.length, sync: true },
    ),
  );

  const runs = Array.from({ length: IMPORT_RUNS }, importChild);
  const importTable = [
    `| step (fresh process, ${IMPORT_RUNS} runs) | median ms | min–max ms |`,
    "| --- | --: | --: |",
    ...IMPORT_ROWS.map(([key, label]) => {
      const s = stats(runs.map((run) => run[key] ?? NaN));
      return `| ${label} | ${s.median.toFixed(2)} | ${s.min.toFixed(2)}–${s.max.toFixed(2)} |`;
    }),
  ].join("\n");
  const genaiUnderTsx = stats(runs.map((run) => run.genaiTsx ?? NaN)).median;
  console.log(`${importTable}\n\n(genai-prices under tsx: ${genaiUnderTsx.toFixed(1)} ms median)`);

  writeSection(results, importTable, genaiUnderTsx);
});

const HEADING = "## Pricing throughput and import cost";

/** Replaces this section in BENCHMARKS.md (or appends it), leaving every other section as it is. */
function writeSection(results: Array<Result | Comparison>, importTable: string, genaiUnderTsx: number): void {
  const body = [
    `\`npm run bench -- pricing\` (bench/pricing.ts), ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ` +
      `${cpus().length}× ${cpus()[0]?.model ?? "CPU"}, 1-minute load ${loadavg()[0]?.toFixed(2)}.`,
    "",
    `**Throughput.** ${MIXED.length} usage records as LangChain's provider packages report them (OpenAI cache reads and ` +
      "reasoning, Anthropic 5m/1h cache writes, Gemini thoughts and its long-context tier, Groq, DeepSeek, Together, " +
      "OpenRouter, Mistral), priced by `priceUsage` against genai-prices' own `calcPrice` on the same records " +
      "(already in its keys), interleaved ABBA in one process; every result is first checked to agree within 1 nano-USD.",
    "",
    markdown(results),
    "",
    "**Import cost.** Each run is a fresh child process; times are measured inside it (`performance.now()` around " +
      "each step), so process start-up is not counted.",
    "",
    importTable,
    "",
    `genai-prices' bundled data (≈ 830 kB of JS) is most of the import; under tsx the same import took ${genaiUnderTsx.toFixed(0)} ms (median). ` +
      "Lookups are cached per model name, so only a model's first call pays for matching its name.",
    "",
  ].join("\n");
  writeBenchmarksSection(HEADING, body);
}
