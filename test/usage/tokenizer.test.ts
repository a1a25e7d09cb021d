/**
 * The sliced tokenizer against js-tiktoken's own one-shot encoder: same ids for every text (or the same error),
 * the same rank map, one shared load per encoding, and the blocking fallback when js-tiktoken's internals differ.
 *
 * `js-tiktoken/lite` is mocked with a subclass of the real Tiktoken that records what it builds, so a test can
 * count loads, reach the rank map our module filled, or make the internals look different. Each test that needs
 * a fresh cache imports the module anew (`vi.resetModules()`). Nothing here is timed: speed is in bench/tokenizer.ts.
 */
import type { Tiktoken as RealTiktoken, TiktokenBPE } from "js-tiktoken/lite";
import { beforeEach, describe, expect, it, vi } from "vitest";

const built = vi.hoisted(() => ({
  /** Every Tiktoken constructed through the mock, with the bpe_ranks it was given. */
  instances: [] as Array<{ instance: unknown; bpeRanks: string }>,
  /** Hide the rank map of instances built with empty ranks (what a js-tiktoken without `rankMap` would look like). */
  hideRankMap: false,
  /** Throw from this many next constructions. */
  failures: 0,
}));

vi.mock("js-tiktoken/lite", async (importOriginal) => {
  const actual = await importOriginal<typeof import("js-tiktoken/lite")>();
  class RecordingTiktoken extends actual.Tiktoken {
    constructor(ranks: TiktokenBPE, extendedSpecialTokens?: Record<string, number>) {
      if (built.failures > 0) {
        built.failures--;
        throw new Error("simulated construction failure");
      }
      super(ranks, extendedSpecialTokens);
      if (built.hideRankMap && ranks.bpe_ranks === "") (this as unknown as { rankMap?: unknown }).rankMap = undefined;
      built.instances.push({ instance: this, bpeRanks: ranks.bpe_ranks });
    }
  }
  return { ...actual, Tiktoken: RecordingTiktoken };
});

type TokenizerModule = typeof import("../../src/usage/tokenizer.js");
type Encoding = "o200k_base" | "cl100k_base";

const { Tiktoken } = await vi.importActual<typeof import("js-tiktoken/lite")>("js-tiktoken/lite");
const RANKS: Record<Encoding, () => Promise<TiktokenBPE>> = {
  o200k_base: async () => (await import("js-tiktoken/ranks/o200k_base")).default,
  cl100k_base: async () => (await import("js-tiktoken/ranks/cl100k_base")).default,
};
const MODEL: Record<Encoding, string> = { o200k_base: "gpt-4o", cl100k_base: "gpt-4" };

/** The module with empty caches. */
async function freshTokenizer(): Promise<TokenizerModule> {
  vi.resetModules();
  return import("../../src/usage/tokenizer.js");
}

beforeEach(() => {
  built.instances.length = 0;
  built.hideRankMap = false;
  built.failures = 0;
});

const LOREM =
  "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore " +
  "magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo " +
  "consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur.\n\n";

const TEXTS: Array<[string, string]> = [
  ["empty", ""],
  ["ASCII", "Hello, world! The quick brown fox jumps over the lazy dog."],
  ["contractions and case", "I'm sure they'll say it's FINE, can't they? WE'RE DONE."],
  ["whitespace runs", "a  b   c    d\t\te\n\n\nf \n \n g   \r\n\r\n    h          "],
  ["only whitespace", " \t\n\r\n      "],
  ["numbers", "0 7 42 123 1234 12345678901234567890 3.14159 -273.15 1e-10 0xFF 1,000,000 2024-12-01"],
  [
    "code",
    'export async function f(xs: number[]): Promise<number> {\n  let total = 0;\n  for (const x of xs) total += x ** 2; // sum\n  return total;\n}\n\nconst s = `${JSON.stringify({ a: [1, 2], "b": null })}`;\n',
  ],
  ["JSON", '{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{}}}}'],
  ["accents", "café naïve façade Ærøskøbing Straße São Paulo Đà Nẵng"],
  ["CJK", "日本語のテキストと中文文本，还有한국어 문장도 있습니다。東京は晴れです。"],
  ["Cyrillic, Greek, Arabic, Hebrew", "Привет, мир! Γειά σου κόσμε. مرحبا بالعالم. שלום עולם."],
  ["emoji", "👍🏽 👨‍👩‍👧‍👦 🇺🇸🇯🇵 🙂🙂🙂 ❤️‍🔥 🧑🏿‍🚀"],
  ["lone surrogate", "a\ud800b \udfff"],
  ["20 kB lorem ipsum", LOREM.repeat(Math.ceil(20_000 / LOREM.length))],
  ["special token", "before <|endoftext|> after"],
  ["another special token", "<|endofprompt|>"],
  ["cl100k's fim tokens", "x <|fim_prefix|> y <|fim_suffix|> z"],
  ["almost a special token", "<|endoftext| and <|endoftext and |endoftext|>"],
];

/** What a function returns, or the message it throws. */
function outcome<T>(run: () => T): { value: T } | { error: string } {
  try {
    return { value: run() };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

describe.each(["o200k_base", "cl100k_base"] as const)("%s: the sliced encoder equals js-tiktoken's one-shot encoder", (encoding) => {
  let tokenizer: TokenizerModule;
  let oneShot: RealTiktoken;
  let sliced: { rankMap: Map<string, number> } | undefined; // the Tiktoken our module built and filled

  it("loads without falling back", async () => {
    tokenizer = await freshTokenizer();
    oneShot = new Tiktoken(await RANKS[encoding]());
    await tokenizer.encoderFor(MODEL[encoding]);
    expect(tokenizer.tokenizerFallbackReason()).toBeUndefined();
    sliced = built.instances.find((b) => b.bpeRanks === "")?.instance as typeof sliced;
    expect(sliced?.rankMap).toBeInstanceOf(Map);
  });

  it.each(TEXTS)("encode: %s", async (_name, text) => {
    const encoder = await tokenizer.encoderFor(MODEL[encoding]);
    const expected = outcome(() => oneShot.encode(text));
    expect(outcome(() => encoder.encode(text))).toEqual(expected);
    // count never throws: special-token text counts as the plain text it is (a prompt must not fail a call)
    expect(encoder.count(text)).toBe(oneShot.encode(text, [], []).length);
  });

  it("encode throws on a disallowed special token as js-tiktoken does; count counts it as text", async () => {
    const encoder = await tokenizer.encoderFor(MODEL[encoding]);
    expect(() => encoder.encode("x<|endoftext|>")).toThrow("The text contains a special token that is not allowed: <|endoftext|>");
    expect(() => oneShot.encode("x<|endoftext|>")).toThrow("The text contains a special token that is not allowed: <|endoftext|>");
    expect(encoder.count("x<|endoftext|>")).toBeGreaterThan(2);
  });

  it("fills the same rank map, entry for entry", () => {
    const ours = sliced;
    const theirs = (oneShot as unknown as { rankMap: Map<string, number> }).rankMap;
    expect(ours?.rankMap.size).toBe(theirs.size);
    let mismatches = 0;
    for (const [key, rank] of theirs) if (ours?.rankMap.get(key) !== rank) mismatches++;
    expect(mismatches).toBe(0);
  });
});

describe("encodingFor", () => {
  it.each([
    ["gpt-4o", "o200k_base"],
    ["gpt-4o-mini", "o200k_base"],
    ["gpt-4.1", "o200k_base"],
    ["gpt-5", "o200k_base"],
    ["o1", "o200k_base"],
    ["o3-mini", "o200k_base"],
    ["gpt-4", "cl100k_base"],
    ["gpt-4-turbo", "cl100k_base"],
    ["gpt-3.5-turbo", "cl100k_base"],
    ["gpt-35-turbo", "cl100k_base"],
    ["text-embedding-3-small", "cl100k_base"],
    // js-tiktoken knows these as r50k_base / p50k_base / gpt2: we only carry the two current encodings.
    ["davinci", "o200k_base"],
    ["text-davinci-003", "o200k_base"],
    ["gpt2", "o200k_base"],
    // Names js-tiktoken doesn't know.
    ["claude-sonnet-4-5", "o200k_base"],
    ["gpt-4o-2099-01-01", "o200k_base"],
    ["", "o200k_base"],
  ])("%s → %s", async (model, encoding) => {
    const { encodingFor } = await import("../../src/usage/tokenizer.js");
    expect(encodingFor(model)).toBe(encoding);
  });
});

describe("loading", () => {
  it("concurrent callers share one load, and loadedEncoderFor sees it only once it is done", async () => {
    const tokenizer = await freshTokenizer();
    expect(tokenizer.loadedEncoderFor("gpt-4")).toBeUndefined();
    const loads = [tokenizer.encoderFor("gpt-4"), tokenizer.encoderFor("gpt-3.5-turbo"), tokenizer.encoderFor("text-embedding-3-small")];
    expect(tokenizer.loadedEncoderFor("gpt-4")).toBeUndefined();
    const [a, b, c] = await Promise.all(loads);
    expect(a).toBe(b);
    expect(a).toBe(c);
    expect(built.instances).toHaveLength(1);
    expect(tokenizer.loadedEncoderFor("gpt-3.5-turbo")).toBe(a);
    expect(await tokenizer.encoderFor("gpt-4")).toBe(a);
    expect(built.instances).toHaveLength(1);
    expect(tokenizer.loadedEncoderFor("gpt-4o")).toBeUndefined(); // the other encoding is not loaded
  });

  it("preloadEncoder starts the shared load", async () => {
    const tokenizer = await freshTokenizer();
    tokenizer.preloadEncoder("gpt-4");
    const encoder = await tokenizer.encoderFor("gpt-4");
    expect(built.instances).toHaveLength(1);
    expect(tokenizer.loadedEncoderFor("gpt-4")).toBe(encoder);
  });

  it("preloadEncoder swallows a failed load, and the next call retries", async () => {
    const tokenizer = await freshTokenizer();
    built.failures = 2; // the sliced build, then the blocking fallback
    expect(() => tokenizer.preloadEncoder("gpt-4")).not.toThrow();
    await expect(tokenizer.encoderFor("gpt-4")).rejects.toThrow("simulated construction failure");
    expect(tokenizer.loadedEncoderFor("gpt-4")).toBeUndefined();
    const encoder = await tokenizer.encoderFor("gpt-4");
    expect(encoder.encode("hello world")).toEqual([15339, 1917]);
    expect(tokenizer.loadedEncoderFor("gpt-4")).toBe(encoder);
  });

  it("falls back to the blocking constructor, and says why, when js-tiktoken has no rankMap", async () => {
    const tokenizer = await freshTokenizer();
    built.hideRankMap = true;
    const encoder = await tokenizer.encoderFor("gpt-4");
    expect(tokenizer.tokenizerFallbackReason()).toMatch(/^cl100k_base: .*rankMap.*blocking/);
    expect(built.instances.map((b) => b.bpeRanks === "")).toEqual([true, false]); // tried sliced, then one-shot
    const oneShot = new Tiktoken(await RANKS.cl100k_base());
    for (const [, text] of TEXTS) expect(outcome(() => encoder.encode(text))).toEqual(outcome(() => oneShot.encode(text)));
  });
});
