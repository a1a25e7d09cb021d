/**
 * The local tokenizer (js-tiktoken's encoders, with the ranks that ship inside js-tiktoken), loaded without
 * blocking the event loop.
 *
 * `new Tiktoken(ranks)` parses all of an encoding's ranks in one synchronous call: for o200k_base (200k ranks)
 * that blocks the event loop for 0.45–3.7 s, long enough for a server's other I/O (Redis calls) to time out. Here
 * the encoder is built with no ranks (cheap) and its rank map is filled in time-boxed slices, yielding to the event
 * loop between them. Only the rank map is filled: js-tiktoken's `textMap` (rank → bytes) serves `decode` alone,
 * which an `Encoder` does not offer, so it stays empty (that also saves 200k small Uint8Arrays).
 *
 * The rank map is a js-tiktoken internal, so the result is checked (a known text must encode to known ids); if
 * the check fails, the encoder is built the blocking way and `tokenizerFallbackReason()` says why.
 *
 * No Node built-ins: this module also runs in browser bundles.
 */
import { getEncodingNameForModel, Tiktoken, type TiktokenBPE, type TiktokenModel } from "js-tiktoken/lite";

/** The encodings we count with: o200k_base (current OpenAI models) and cl100k_base (GPT-4, GPT-3.5). */
export type Encoding = "o200k_base" | "cl100k_base";

/** Counts tokens locally. */
export interface Encoder {
  /** The token ids of `text`, as js-tiktoken's `encode(text)` gives them (it throws on a special token such as `<|endoftext|>`). */
  encode(text: string): number[];
  /**
   * How many tokens `text` is. Special-token text (`<|endoftext|>` in a user's message) counts as the plain
   * text it is, rather than throwing: counting a prompt must never fail a call.
   */
  count(text: string): number;
}

/** The encoding for a model: cl100k_base when js-tiktoken says so, else o200k_base (also for names it doesn't know). */
export function encodingFor(model: string): Encoding {
  try {
    return getEncodingNameForModel(model as TiktokenModel) === "cl100k_base" ? "cl100k_base" : "o200k_base";
  } catch {
    return "o200k_base"; // current OpenAI models, and a fair approximation for others
  }
}

// Ranks ship inside js-tiktoken, so counting never downloads anything. Importing a ranks module is one
// synchronous evaluation that can't be sliced (o200k_base's 2.3 MB: ≈ 7.5 ms of stall, bench/tokenizer.ts);
// parsing it can.
const rankLoaders: Record<Encoding, () => Promise<TiktokenBPE>> = {
  o200k_base: async () => (await import("js-tiktoken/ranks/o200k_base")).default,
  cl100k_base: async () => (await import("js-tiktoken/ranks/cl100k_base")).default,
};

// What a correctly built encoder gives for PROBE_TEXT (from js-tiktoken 1.0.21's one-shot encoders): it takes
// ASCII merges, digits, CJK and an emoji, so a rank map keyed or filled differently from js-tiktoken's fails it.
const PROBE_TEXT = "Hello, world! 12345 日本語 🙂";
const PROBE_IDS: Record<Encoding, readonly number[]> = {
  o200k_base: [13225, 11, 2375, 0, 220, 7633, 2548, 17428, 40909, 26192],
  cl100k_base: [9906, 11, 1917, 0, 220, 4513, 1774, 76502, 22656, 45918, 252, 28584],
};

/**
 * How long one synchronous slice of the fill may run before it yields to the event loop. Small, because a
 * slice can also take a young-generation GC (5–10 ms here: every key it made survives) and the Map's doubling.
 */
const SLICE_MS = 5;
/** Ranks parsed between two looks at the clock: ~0.1 ms of work, more while the loop is still interpreted. */
const RANKS_PER_CLOCK_CHECK = 128;

const loads = new Map<Encoding, Promise<Encoder>>();
const loaded = new Map<Encoding, Encoder>();
let fallbackReason: string | undefined;

/**
 * The encoder for a model's encoding. The first call starts the load (o200k_base: ≈ 150 ms, with no stall over
 * ~15 ms; bench/tokenizer.ts); later and concurrent calls share it. A failed load is forgotten, so the next call retries.
 */
export function encoderFor(model: string): Promise<Encoder> {
  const encoding = encodingFor(model);
  let load = loads.get(encoding);
  if (!load) {
    load = loadEncoder(encoding).then(
      (encoder) => (loaded.set(encoding, encoder), encoder),
      (error: unknown) => {
        loads.delete(encoding);
        throw error;
      },
    );
    loads.set(encoding, load);
  }
  return load;
}

/** The encoder for a model's encoding if it has finished loading, else undefined (no await on hot paths). */
export function loadedEncoderFor(model: string): Encoder | undefined {
  return loaded.get(encodingFor(model));
}

/** Starts loading a model's encoder in the background. Never throws; a failed load is retried by the next call. */
export function preloadEncoder(model: string): void {
  encoderFor(model).catch(() => {});
}

/**
 * Why the last encoder was built with js-tiktoken's blocking constructor instead of in slices (js-tiktoken's
 * internals changed, or the sliced build failed its check), or undefined if it never was. For diagnostics.
 */
export function tokenizerFallbackReason(): string | undefined {
  return fallbackReason;
}

async function loadEncoder(encoding: Encoding): Promise<Encoder> {
  const ranks = await rankLoaders[encoding]();
  // The import's evaluation just held the thread; let waiting I/O and timers run before the first slice.
  await yieldToEventLoop();
  let tiktoken: Tiktoken;
  try {
    tiktoken = await buildInSlices(ranks, encoding);
  } catch (error) {
    fallbackReason = `${encoding}: ${error instanceof Error ? error.message : String(error)}; built with the blocking new Tiktoken(ranks)`;
    tiktoken = new Tiktoken(ranks);
  }
  return {
    encode: (text) => tiktoken.encode(text),
    count: (text) => (text === "" ? 0 : tiktoken.encode(text, [], []).length),
  };
}

/** Builds the same encoder as `new Tiktoken(ranks)` (less its decode table), yielding every SLICE_MS. Throws if it can't. */
async function buildInSlices(ranks: TiktokenBPE, encoding: Encoding): Promise<Tiktoken> {
  const tiktoken = new Tiktoken({ ...ranks, bpe_ranks: "" });
  const rankMap: unknown = (tiktoken as unknown as { rankMap?: unknown }).rankMap;
  if (!(rankMap instanceof Map) || rankMap.size !== 0) throw new Error("js-tiktoken's Tiktoken has no empty rankMap Map");
  await fillRankMap(rankMap as Map<string, number>, ranks.bpe_ranks);
  // The first encode compiles pat_str's regex (≈ 8 ms for o200k_base): a slice of its own.
  await yieldToEventLoop();
  const ids = tiktoken.encode(PROBE_TEXT);
  const expected = PROBE_IDS[encoding];
  if (ids.length !== expected.length || ids.some((id, i) => id !== expected[i])) {
    throw new Error(`the sliced encoder encodes a probe text as [${ids.join(",")}], not [${expected.join(",")}]`);
  }
  return tiktoken;
}

/**
 * Fills `rankMap` as js-tiktoken's constructor does: `bpe_ranks` is lines of `name offset token token …` (one
 * line per encoding in js-tiktoken 1.0.x), the i-th base64 token has rank offset + i, and the map's key is the
 * token's bytes joined with commas ("104,101"). Scans with indexOf rather than split(" "), which would allocate
 * 200k strings in one go.
 */
async function fillRankMap(rankMap: Map<string, number>, bpeRanks: string): Promise<void> {
  let sliceStart = performance.now();
  for (const line of bpeRanks.split("\n")) {
    if (!line) continue;
    const nameEnd = line.indexOf(" ");
    if (nameEnd < 0) continue;
    let tokenStart = line.indexOf(" ", nameEnd + 1) + 1; // 0 when the line has no tokens
    const offset = Number.parseInt(line.slice(nameEnd + 1, tokenStart ? tokenStart - 1 : undefined), 10);
    for (let rank = offset; tokenStart > 0; rank++) {
      const tokenEnd = line.indexOf(" ", tokenStart);
      rankMap.set(byteKey(line.slice(tokenStart, tokenEnd < 0 ? undefined : tokenEnd)), rank);
      tokenStart = tokenEnd + 1;
      if ((rank - offset) % RANKS_PER_CLOCK_CHECK === 0 && performance.now() - sliceStart >= SLICE_MS) {
        await yieldToEventLoop();
        sliceStart = performance.now();
      }
    }
  }
}

const keyBytes: number[] = []; // reused: the only allocation per rank is then its key

/**
 * A base64 token's bytes joined with commas, as js-tiktoken keys them (`Uint8Array.join(",")`). `join` makes a
 * flat string; building it with `+=` made cons strings, which held 2.7× the heap and took twice as long.
 */
function byteKey(base64: string): string {
  const binary = atob(base64);
  keyBytes.length = binary.length;
  for (let i = 0; i < binary.length; i++) keyBytes[i] = binary.charCodeAt(i);
  return keyBytes.join(",");
}

/**
 * Lets other tasks run. setImmediate in Node (runs after pending I/O, no timer clamping); in a browser a
 * MessageChannel message, since nested setTimeout(0) is clamped to 4 ms; setTimeout(0) as a last resort.
 */
const yieldToEventLoop: () => Promise<void> =
  typeof setImmediate === "function"
    ? () => new Promise((resolve) => setImmediate(resolve))
    : typeof MessageChannel === "function"
      ? messageChannelYield
      : () => new Promise((resolve) => setTimeout(resolve, 0));

/** One channel per yield, closed once used: an open port would keep a server-side runtime (Deno, Node) alive. */
function messageChannelYield(): Promise<void> {
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(undefined);
  });
}
