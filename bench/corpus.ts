/**
 * Pricing accuracy on the corpus (`npm run bench -- corpus`): every vector of `test/corpus/` (provider responses
 * in their documented shapes, replayed byte for byte through the real SDKs) priced by the library, beside what
 * `@pydantic/genai-prices`' own `calcPrice` gives when fed the way LangChain's `usage_metadata` would feed it
 * (input, cache read/write, audio and output tokens as the message reports them, for the model it names), both
 * against the figure worked out by hand from the list price. Writes "## Pricing accuracy: the corpus" in
 * BENCHMARKS.md.
 */
import type { AIMessage, BaseMessage } from "@langchain/core/messages";
import { calcPrice } from "@pydantic/genai-prices";
import { costOf, GENAI_PRICES_VERSION } from "../src/index.js";
import { genaiProviderId } from "../src/pricing/providers.js";
import { answer, loadCorpus } from "../test/corpus/harness.js";
import { startReplayServer } from "../test/corpus/replay-server.js";
import type { Vector } from "../test/corpus/vector.js";
import { section, writeBenchmarksSection } from "./harness.js";

interface Row {
  provider: string;
  vectors: number;
  exact: number;
  estimated: number;
  refused: number;
  genaiExact: number;
  genaiNone: number;
  genaiWorst: number;
}

const PROVIDER_IDS: Record<string, string> = { "openai chat": "openai", "openai responses": "openai", azure: "azure", xai: "x-ai" };

/** `calcPrice` on LangChain's `usage_metadata`, as an integration without per-provider rules would call it. */
function genaiNaive(vector: Vector, message: BaseMessage, at: Date): number | undefined {
  const usage = (message as AIMessage).usage_metadata;
  if (!usage) return undefined;
  const input = (usage.input_token_details ?? {}) as Record<string, number | undefined>;
  const output = (usage.output_token_details ?? {}) as Record<string, number | undefined>;
  const named = (message.response_metadata as { model_name?: string; model?: string }).model_name ?? (message.response_metadata as { model?: string }).model;
  const prefix = vector.name.split(":")[0] ?? "";
  const provider = genaiProviderId(PROVIDER_IDS[prefix] ?? prefix);
  const result = calcPrice(
    {
      input_tokens: usage.input_tokens,
      cache_read_tokens: input.cache_read,
      cache_write_tokens: input.cache_creation,
      input_audio_tokens: input.audio,
      output_tokens: usage.output_tokens,
      output_audio_tokens: output.audio,
    },
    named ?? vector.model,
    { ...(provider ? { providerId: provider } : {}), timestamp: at },
  );
  return result ? Math.round(result.total_price * 1e9) : undefined;
}

/** `new Date()` and `Date.now()` at a vector's time, as the corpus test sets them. */
function withClock<T>(at: Date, run: () => Promise<T>): Promise<T> {
  const Real = Date;
  class Fixed extends Real {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(at.getTime());
      else super(...(args as [string | number | Date]));
    }
    static override now() {
      return at.getTime();
    }
  }
  globalThis.Date = Fixed as DateConstructor;
  return run().finally(() => {
    globalThis.Date = Real;
  });
}

section("corpus", async () => {
  const corpus = await loadCorpus();
  const replay = await startReplayServer();
  const rows = new Map<string, Row>();
  const misses: string[] = [];
  try {
    for (const vector of corpus) {
      const provider = vector.name.split(":")[0] ?? "?";
      const row = rows.get(provider) ?? { provider, vectors: 0, exact: 0, estimated: 0, refused: 0, genaiExact: 0, genaiNone: 0, genaiWorst: 0 };
      rows.set(provider, row);
      row.vectors++;
      const at = new Date(vector.at ?? "2025-11-15T12:00:00Z");
      const expected = vector.expected.nanoUsd;
      try {
        const message = await withClock(at, () => answer(vector, replay));
        const cost = costOf(message);
        if (cost?.nanoUsd === expected) row.exact++;
        else misses.push(`${vector.name}: ${cost?.nanoUsd} n$, expected ${expected}`);
        if (cost?.estimated) row.estimated++;
        let theirs: number | undefined;
        try {
          theirs = genaiNaive(vector, message, at);
        } catch {
          theirs = undefined; // calcPrice refuses usage it finds inconsistent (LangChain's summed Gemini cache reads)
        }
        if (theirs === undefined) row.genaiNone++;
        else if (Math.abs(theirs - expected) <= 1) row.genaiExact++;
        else row.genaiWorst = Math.max(row.genaiWorst, Math.abs(theirs - expected) / expected);
      } catch (error) {
        row.refused++;
        misses.push(`${vector.name}: threw ${(error as Error).message.split("\n")[0]}`);
      }
    }
  } finally {
    await replay.close();
  }
  const table = [
    "| provider | vectors | exact (ours) | estimated | refused | genai-prices `calcPrice` on `usage_metadata`: exact | no price, or refused | worst error |",
    "| --- | --: | --: | --: | --: | --: | --: | --: |",
    ...[...rows.values()].map(
      (r) => `| ${r.provider} | ${r.vectors} | ${r.exact} | ${r.estimated} | ${r.refused} | ${r.genaiExact} | ${r.genaiNone} | ${r.genaiWorst ? `${(r.genaiWorst * 100).toFixed(0)} %` : "0"} |`,
    ),
  ];
  const total = [...rows.values()].reduce((sum, r) => ({ v: sum.v + r.vectors, e: sum.e + r.exact, g: sum.g + r.genaiExact }), { v: 0, e: 0, g: 0 });
  table.push(`| **all** | **${total.v}** | **${total.e}** | | | **${total.g}** | | |`);
  console.log(table.join("\n"));
  if (misses.length) console.log(`\nNot exact:\n${misses.map((m) => `- ${m}`).join("\n")}`);
  writeSection(table.join("\n"), misses);
});

const HEADING = "## Pricing accuracy: the corpus (issue 13)";

function writeSection(table: string, misses: readonly string[]): void {
  const body = [
    `\`npm run bench -- corpus\` (bench/corpus.ts), ${new Date().toISOString().slice(0, 10)}, genai-prices ${GENAI_PRICES_VERSION}. ` +
      "Every vector of `test/corpus/` (a response in the shape its provider's API reference documents, replayed byte " +
      "for byte through the real SDK and LangChain's provider package) is priced by the library, and by genai-prices' " +
      "own `calcPrice` fed what LangChain's `usage_metadata` reports (input, cache read and write, audio and output " +
      "tokens, for the model the response names), as an integration without per-provider rules would. Both are " +
      "compared with the figure worked out by hand from the list price. \"Estimated\" counts costs marked estimated; " +
      "\"refused\" calls that threw; \"no price, or refused\": `calcPrice` found no price, or threw on usage it finds " +
      "inconsistent (LangChain's stream sums Gemini's repeated cache count past the input).",
    "",
    table,
    "",
    misses.length ? `Not exact:\n\n${misses.map((m) => `- ${m}`).join("\n")}` : "Every vector is exact to the nano-dollar.",
    "",
  ].join("\n");
  writeBenchmarksSection(HEADING, body);
}
