/**
 * Gemini API generateContent / streamGenerateContent?alt=sse (https://ai.google.dev/api/generate-content),
 * through ChatGoogleGenerativeAI and @google/generative-ai.
 *
 * `usageMetadata` (https://ai.google.dev/api/generate-content#UsageMetadata): `promptTokenCount` includes
 * `cachedContentTokenCount`; `toolUsePromptTokenCount` (the prompt of built-in tools such as google_search)
 * is separate from it; `candidatesTokenCount` excludes `thoughtsTokenCount`; `totalTokenCount` = prompt +
 * toolUsePrompt + candidates + thoughts. `promptTokensDetails`, `cacheTokensDetails`,
 * `candidatesTokensDetails`, `toolUsePromptTokensDetails` are `ModalityTokenCount` lists
 * (`{ modality: TEXT | IMAGE | VIDEO | AUDIO, tokenCount }`). Streamed, each chunk's usageMetadata is the
 * usage so far (prompt counts repeated, candidates cumulative); the last chunk's is the call's.
 *
 * Prices: https://ai.google.dev/gemini-api/docs/pricing (read 2025-11-15), paid tier, USD per 1M tokens:
 *   gemini-2.5-pro    input 1.25 (> 200K prompt: 2.50); output incl. thinking 10 (> 200K: 15);
 *                     context-cache read 0.125 (> 200K: 0.25)
 *   gemini-2.5-flash  input 0.30 text / image / video, 1.00 audio; output incl. thinking 2.50;
 *                     context-cache read 0.03 text / image / video, 0.10 audio
 * (cache storage is billed per hour, not per call). genai-prices 0.1.8 has these rates (flash's as
 * `input_audio_mtok: 1`, `cache_audio_read_mtok: 0.1`; pro's tiers start at 200000).
 *
 * Arithmetic: tokens × (USD per 1M) × 1,000 = nano-USD.
 */
import { sse } from "../replay-server.js";
import type { Vector } from "../vector.js";

const PRICE_PRO =
  "https://ai.google.dev/gemini-api/docs/pricing (read 2025-11-15): gemini-2.5-pro, prompts <= 200K: input $1.25, output (thinking included) $10, cache read $0.125 per 1M; genai-prices 0.1.8 agrees";
const PRICE_PRO_LONG =
  "https://ai.google.dev/gemini-api/docs/pricing (read 2025-11-15): gemini-2.5-pro, prompts > 200K tokens: input $2.50, output (thinking included) $15, cache read $0.25 per 1M, for the whole call; genai-prices 0.1.8 agrees (tiers start 200000)";
const PRICE_FLASH =
  "https://ai.google.dev/gemini-api/docs/pricing (read 2025-11-15): gemini-2.5-flash input $0.30 (text / image / video), output (thinking included) $2.50, cache read $0.03 per 1M; genai-prices 0.1.8 agrees";
const PRICE_FLASH_AUDIO =
  "https://ai.google.dev/gemini-api/docs/pricing (read 2025-11-15): gemini-2.5-flash input $0.30 text / image / video, $1.00 AUDIO, output $2.50 per 1M; genai-prices 0.1.8 agrees (input_audio_mtok 1)";
const GROUNDING_GAP =
  "Grounding with Google Search is also billed per grounded prompt (gemini-2.5-flash / -pro: 1,500 grounded prompts per day free, then $35 per 1,000; " +
  "https://ai.google.dev/gemini-api/docs/pricing, read 2025-11-15). genai-prices 0.1.8 has no per-request rate for it (google models carry only *_mtok keys), and " +
  "whether a call is inside the free daily allowance isn't knowable from one response: the expected figure assumes it is (tokens only).";

type Modality = "TEXT" | "IMAGE" | "VIDEO" | "AUDIO";
type Details = Partial<Record<Modality, number>>;
const details = (d: Details) => Object.entries(d).map(([modality, tokenCount]) => ({ modality, tokenCount }));

interface Counts {
  prompt?: number;
  candidates?: number;
  thoughts?: number;
  cached?: number;
  toolUse?: number;
  /** promptTokensDetails; default all TEXT. */
  promptDetails?: Details;
  cacheDetails?: Details;
  toolUseDetails?: Details;
  /** Omit promptTokenCount / candidatesTokenCount (a thinking stream's first chunks). */
  bare?: boolean;
}

/** `usageMetadata` as the API reference documents it. */
function usage(c: Counts): Record<string, unknown> {
  const prompt = c.prompt ?? 0;
  const candidates = c.candidates ?? 0;
  const total = prompt + candidates + (c.thoughts ?? 0) + (c.toolUse ?? 0);
  return {
    ...(c.bare ? {} : { promptTokenCount: prompt, candidatesTokenCount: candidates }),
    totalTokenCount: total,
    ...(c.cached ? { cachedContentTokenCount: c.cached } : {}),
    ...(c.toolUse ? { toolUsePromptTokenCount: c.toolUse } : {}),
    ...(c.thoughts ? { thoughtsTokenCount: c.thoughts } : {}),
    ...(prompt ? { promptTokensDetails: details(c.promptDetails ?? { TEXT: prompt }) } : {}),
    ...(c.cached ? { cacheTokensDetails: details(c.cacheDetails ?? { TEXT: c.cached }) } : {}),
    ...(candidates ? { candidatesTokensDetails: details({ TEXT: candidates }) } : {}),
    ...(c.toolUse ? { toolUsePromptTokensDetails: details(c.toolUseDetails ?? { TEXT: c.toolUse }) } : {}),
  };
}

type Part = Record<string, unknown>;

/** One GenerateContentResponse: `parts` undefined = a candidate with no content yet. */
const response = (model: string, parts: Part[] | undefined, c: Counts, last: boolean, extra: Record<string, unknown> = {}) => ({
  candidates: [{ ...(parts ? { content: { parts, role: "model" } } : {}), ...(last ? { finishReason: "STOP" } : {}), index: 0, ...(last ? extra : {}) }],
  usageMetadata: usage(c),
  modelVersion: model,
  responseId: "corpusGeminiResponse",
});

const json = (model: string, parts: Part[], c: Counts, extra?: Record<string, unknown>) => JSON.stringify(response(model, parts, c, true, extra));

/** An SSE stream of responses, each `[parts, usage so far]`; the last one finishes. */
const stream = (model: string, chunks: ReadonlyArray<readonly [Part[] | undefined, Counts]>, extra?: Record<string, unknown>) =>
  sse(chunks.map(([parts, c], i) => response(model, parts, c, i === chunks.length - 1, extra)));

const grounding = {
  groundingMetadata: {
    webSearchQueries: ["who won euro 2024"],
    searchEntryPoint: { renderedContent: "<div class=\"container\">corpus</div>" },
    groundingChunks: [{ web: { uri: "https://vertexaisearch.cloud.google.com/grounding-api-redirect/corpus", title: "uefa.com" } }],
    groundingSupports: [{ segment: { startIndex: 0, endIndex: 28, text: "Spain won Euro 2024." }, groundingChunkIndices: [0], confidenceScores: [0.97] }],
  },
};

const FLASH = "gemini-2.5-flash";
const PRO = "gemini-2.5-pro";
const t = (text: string): Part[] => [{ text }];
const thought = (text: string): Part[] => [{ text, thought: true }];

export const vectors: Vector[] = [
  // --- Plain text ----------------------------------------------------------------------------------------
  {
    name: "gemini: gemini-2.5-flash, JSON, text only, no thinking",
    client: "gemini",
    model: FLASH,
    stream: false,
    reply: { body: json(FLASH, t("Hello!"), { prompt: 1_000, candidates: 500 }) },
    expected: { nanoUsd: 1_550_000, details: { input: 300_000, output: 1_250_000 }, provider: "google" },
    worked: "input 1,000 × $0.30 = 300,000 n$; output 500 × $2.50 = 1,250,000 n$; total 1,550,000 n$",
    price: PRICE_FLASH,
  },
  {
    name: "gemini: gemini-2.5-flash, SSE, text only, candidates cumulative over 3 chunks",
    client: "gemini",
    model: FLASH,
    stream: true,
    reply: {
      body: stream(FLASH, [
        [t("Hello"), { prompt: 1_000, candidates: 120 }],
        [t(" there,"), { prompt: 1_000, candidates: 310 }],
        [t(" friend."), { prompt: 1_000, candidates: 500 }],
      ]),
    },
    expected: { nanoUsd: 1_550_000, details: { input: 300_000, output: 1_250_000 } },
    worked: "last chunk: prompt 1,000, candidates 500. input 1,000 × $0.30 = 300,000 n$; output 500 × $2.50 = 1,250,000 n$; total 1,550,000 n$",
    price: PRICE_FLASH,
  },
  // --- Thinking -----------------------------------------------------------------------------------------
  {
    name: "gemini: gemini-2.5-pro, JSON, thinking (thoughtsTokenCount outside candidatesTokenCount)",
    client: "gemini",
    model: PRO,
    stream: false,
    reply: { body: json(PRO, t("The answer."), { prompt: 2_000, candidates: 800, thoughts: 3_200 }) },
    expected: { nanoUsd: 42_500_000, details: { input: 2_500_000, output: 8_000_000, output_reasoning: 32_000_000 } },
    worked: "input 2,000 × $1.25 = 2,500,000 n$; candidates 800 × $10 = 8,000,000 n$; thoughts 3,200 × $10 = 32,000,000 n$; total 42,500,000 n$",
    price: PRICE_PRO,
  },
  {
    name: "gemini: gemini-2.5-flash, JSON, thinking",
    client: "gemini",
    model: FLASH,
    stream: false,
    reply: { body: json(FLASH, t("The answer."), { prompt: 300, candidates: 200, thoughts: 1_500 }) },
    expected: { nanoUsd: 4_340_000, details: { input: 90_000, output: 500_000, output_reasoning: 3_750_000 } },
    worked: "input 300 × $0.30 = 90,000 n$; candidates 200 × $2.50 = 500,000 n$; thoughts 1,500 × $2.50 = 3,750,000 n$; total 4,340,000 n$",
    price: PRICE_FLASH,
  },
  {
    name: "gemini: gemini-2.5-flash, SSE, thinking counted on every chunk (thoughts not streamed)",
    client: "gemini",
    model: FLASH,
    stream: true,
    reply: {
      body: stream(FLASH, [
        [t("The"), { prompt: 400, candidates: 60, thoughts: 900 }],
        [t(" answer."), { prompt: 400, candidates: 150, thoughts: 900 }],
      ]),
    },
    expected: { nanoUsd: 2_745_000, details: { input: 120_000, output: 375_000, output_reasoning: 2_250_000 } },
    worked: "last chunk: prompt 400, candidates 150, thoughts 900. input 400 × $0.30 = 120,000 n$; candidates 150 × $2.50 = 375,000 n$; thoughts 900 × $2.50 = 2,250,000 n$; total 2,745,000 n$",
    price: PRICE_FLASH,
  },
  {
    name: "gemini: gemini-2.5-pro, SSE, includeThoughts: thought parts first (no promptTokenCount), then the answer",
    client: "gemini",
    model: PRO,
    stream: true,
    reply: {
      body: stream(PRO, [
        [thought("**Planning** I'll recall the facts."), { thoughts: 700, bare: true }],
        [thought("**Checking** Both agree."), { thoughts: 1_400, bare: true }],
        [t("The"), { prompt: 600, candidates: 40, thoughts: 1_400 }],
        [t(" answer."), { prompt: 600, candidates: 120, thoughts: 1_400 }],
      ]),
    },
    expected: { nanoUsd: 15_950_000, details: { input: 750_000, output: 1_200_000, output_reasoning: 14_000_000 } },
    worked: "last chunk: prompt 600, candidates 120, thoughts 1,400. input 600 × $1.25 = 750,000 n$; candidates 120 × $10 = 1,200,000 n$; thoughts 1,400 × $10 = 14,000,000 n$; total 15,950,000 n$",
    price: PRICE_PRO,
  },
  {
    name: "gemini: gemini-2.5-flash, SSE, thinking: first chunks carry only thought counts (no content, no promptTokenCount)",
    client: "gemini",
    model: FLASH,
    stream: true,
    reply: {
      body: stream(FLASH, [
        [undefined, { thoughts: 700, bare: true }],
        [undefined, { thoughts: 1_400, bare: true }],
        [t("The"), { prompt: 600, candidates: 40, thoughts: 1_400 }],
        [t(" answer."), { prompt: 600, candidates: 120, thoughts: 1_400 }],
      ]),
    },
    expected: { nanoUsd: 3_980_000, details: { input: 180_000, output: 300_000, output_reasoning: 3_500_000 } },
    worked:
      "last chunk (cumulative): prompt 600, candidates 120, thoughts 1,400, total 2,120. input 600 × $0.30 = 180,000 n$; candidates 120 × $2.50 = 300,000 n$; " +
      "thoughts 1,400 × $2.50 = 3,500,000 n$; total 3,980,000 n$ (without the thought-only chunks' counts: 480,000 n$, 88% under)",
    price: PRICE_FLASH,
    covers: "gemini-thinking-stream",
  },
  {
    name: "gemini: gemini-2.5-pro, SSE, thinking: first chunks report promptTokenCount 0 / candidatesTokenCount 0 and a total",
    client: "gemini",
    model: PRO,
    stream: true,
    reply: {
      body: stream(PRO, [
        [undefined, { prompt: 0, candidates: 0, thoughts: 1_300 }],
        [undefined, { prompt: 0, candidates: 0, thoughts: 2_600 }],
        [t("The"), { prompt: 2_000, candidates: 200, thoughts: 2_600 }],
        [t(" answer."), { prompt: 2_000, candidates: 500, thoughts: 2_600 }],
      ]),
    },
    expected: { nanoUsd: 33_500_000, details: { input: 2_500_000, output: 5_000_000, output_reasoning: 26_000_000 } },
    worked:
      "last chunk: prompt 2,000, candidates 500, thoughts 2,600, total 5,100. input 2,000 × $1.25 = 2,500,000 n$; candidates 500 × $10 = 5,000,000 n$; " +
      "thoughts 2,600 × $10 = 26,000,000 n$; total 33,500,000 n$ (without the thought-only chunks' counts: 7,500,000 n$, 78% under)",
    price: PRICE_PRO,
    covers: "gemini-thinking-stream",
  },
  // --- Context caching ------------------------------------------------------------------------------------
  {
    name: "gemini: gemini-2.5-pro, JSON, 40,000 of 50,000 prompt tokens from cached content",
    client: "gemini",
    model: PRO,
    stream: false,
    reply: { body: json(PRO, t("Summary."), { prompt: 50_000, cached: 40_000, candidates: 1_000 }) },
    expected: { nanoUsd: 27_500_000, details: { input: 12_500_000, input_cache_read: 5_000_000, output: 10_000_000 } },
    worked:
      "promptTokenCount 50,000 includes cachedContentTokenCount 40,000: uncached 10,000 × $1.25 = 12,500,000 n$; cached 40,000 × $0.125 = 5,000,000 n$; " +
      "output 1,000 × $10 = 10,000,000 n$; total 27,500,000 n$ (cache storage is billed per hour, not per call)",
    price: PRICE_PRO,
  },
  {
    name: "gemini: gemini-2.5-flash, SSE, 16,000 of 20,000 prompt tokens cached, the cache count on every chunk",
    client: "gemini",
    model: FLASH,
    stream: true,
    reply: {
      body: stream(FLASH, [
        [t("Sum"), { prompt: 20_000, cached: 16_000, candidates: 100 }],
        [t("mary."), { prompt: 20_000, cached: 16_000, candidates: 300 }],
      ]),
    },
    expected: { nanoUsd: 2_430_000, details: { input: 1_200_000, input_cache_read: 480_000, output: 750_000 } },
    worked: "last chunk: prompt 20,000 incl. 16,000 cached, candidates 300. uncached 4,000 × $0.30 = 1,200,000 n$; cached 16,000 × $0.03 = 480,000 n$; output 300 × $2.50 = 750,000 n$; total 2,430,000 n$",
    price: PRICE_FLASH,
  },
  // --- Built-in tools: toolUsePromptTokenCount is input ------------------------------------------------------
  {
    name: "gemini: gemini-2.5-flash, JSON, google_search grounding: toolUsePromptTokenCount billed as input",
    client: "gemini",
    model: FLASH,
    stream: false,
    reply: { body: json(FLASH, t("Spain won Euro 2024."), { prompt: 120, toolUse: 2_400, candidates: 350 }, grounding) },
    expected: { nanoUsd: 1_631_000, details: { input: 756_000, output: 875_000 } },
    worked:
      "input = prompt 120 + tool-use prompt 2,400 = 2,520 × $0.30 = 756,000 n$; output 350 × $2.50 = 875,000 n$; total 1,631,000 n$ " +
      "(tool-use prompt priced as output instead: 36,000 + 2,750 × $2.50 = 6,911,000 n$, 324% over)",
    price: PRICE_FLASH,
    covers: "gemini-tool-use-prompt",
    priceDataGap: GROUNDING_GAP,
  },
  {
    name: "gemini: gemini-2.5-pro, SSE, google_search grounding with thinking: tool-use prompt input, thoughts output",
    client: "gemini",
    model: PRO,
    stream: true,
    reply: {
      body: stream(
        PRO,
        [
          [t("Spain"), { prompt: 900, toolUse: 5_200, thoughts: 1_100, candidates: 150 }],
          [t(" won Euro 2024."), { prompt: 900, toolUse: 5_200, thoughts: 1_100, candidates: 400 }],
        ],
        grounding,
      ),
    },
    expected: { nanoUsd: 22_625_000, details: { input: 7_625_000, output: 4_000_000, output_reasoning: 11_000_000 } },
    worked:
      "last chunk: prompt 900, toolUsePrompt 5,200, thoughts 1,100, candidates 400 (total 7,600). input (900 + 5,200) 6,100 × $1.25 = 7,625,000 n$; " +
      "candidates 400 × $10 = 4,000,000 n$; thoughts 1,100 × $10 = 11,000,000 n$; total 22,625,000 n$",
    price: PRICE_PRO,
    covers: "gemini-tool-use-prompt",
    priceDataGap: GROUNDING_GAP,
  },
  // --- Modalities -------------------------------------------------------------------------------------------
  {
    name: "gemini: gemini-2.5-flash, JSON, audio input (promptTokensDetails AUDIO at the audio rate)",
    client: "gemini",
    model: FLASH,
    stream: false,
    reply: { body: json(FLASH, t("Transcript summary."), { prompt: 3_200, promptDetails: { TEXT: 200, AUDIO: 3_000 }, candidates: 150 }) },
    expected: { nanoUsd: 3_435_000, details: { input: 60_000, input_audio: 3_000_000, output: 375_000 } },
    worked:
      "prompt 3,200 = TEXT 200 + AUDIO 3,000: text 200 × $0.30 = 60,000 n$; audio 3,000 × $1.00 = 3,000,000 n$; output 150 × $2.50 = 375,000 n$; total 3,435,000 n$ " +
      "(all input at $0.30: 1,335,000 n$, 61% under)",
    price: PRICE_FLASH_AUDIO,
    covers: "gemini-modalities",
  },
  {
    name: "gemini: gemini-2.5-flash, SSE, audio input",
    client: "gemini",
    model: FLASH,
    stream: true,
    reply: {
      body: stream(FLASH, [
        [t("Transcript"), { prompt: 1_850, promptDetails: { TEXT: 50, AUDIO: 1_800 }, candidates: 30 }],
        [t(" summary."), { prompt: 1_850, promptDetails: { TEXT: 50, AUDIO: 1_800 }, candidates: 90 }],
      ]),
    },
    expected: { nanoUsd: 2_040_000, details: { input: 15_000, input_audio: 1_800_000, output: 225_000 } },
    worked: "last chunk: prompt 1,850 = TEXT 50 + AUDIO 1,800, candidates 90. text 50 × $0.30 = 15,000 n$; audio 1,800 × $1.00 = 1,800,000 n$; output 90 × $2.50 = 225,000 n$; total 2,040,000 n$",
    price: PRICE_FLASH_AUDIO,
    covers: "gemini-modalities",
  },
  {
    name: "gemini: gemini-2.5-flash, JSON, cached audio (cacheTokensDetails AUDIO at the cached-audio rate)",
    client: "gemini",
    model: FLASH,
    stream: false,
    reply: {
      body: json(FLASH, t("Transcript summary."), {
        prompt: 10_000,
        promptDetails: { TEXT: 1_000, AUDIO: 9_000 },
        cached: 8_000,
        cacheDetails: { AUDIO: 8_000 },
        candidates: 100,
      }),
    },
    expected: { nanoUsd: 2_350_000 },
    worked:
      "prompt 10,000 = TEXT 1,000 + AUDIO 9,000, of which 8,000 AUDIO cached: text 1,000 × $0.30 = 300,000 n$; uncached audio 1,000 × $1.00 = 1,000,000 n$; " +
      "cached audio 8,000 × $0.10 = 800,000 n$; output 100 × $2.50 = 250,000 n$; total 2,350,000 n$",
    price:
      "https://ai.google.dev/gemini-api/docs/pricing (read 2025-11-15): gemini-2.5-flash input $0.30 text, $1.00 audio; context cache $0.03 text, $0.10 audio; output $2.50 per 1M; " +
      "genai-prices 0.1.8 agrees (input_audio_mtok 1, cache_audio_read_mtok 0.1)",
    covers: "gemini-modalities",
    priceDataGap:
      "genai-prices 0.1.8 HAS `cache_audio_read_mtok: 0.1` for gemini-2.5-flash, but src/pricing/genai-prices.ts `fromGenai` maps no such key and the ModelPrice / cost " +
      "details have no cached-audio kind: cached audio can only be priced at the text cache rate ($0.03) or the audio input rate ($1.00), both wrong.",
  },
  {
    name: "gemini: gemini-2.5-flash, JSON, image and video input (same rate as text)",
    client: "gemini",
    model: FLASH,
    stream: false,
    reply: { body: json(FLASH, t("A cat on a mat."), { prompt: 2_930, promptDetails: { TEXT: 42, IMAGE: 258, VIDEO: 2_630 }, candidates: 200 }) },
    expected: { nanoUsd: 1_379_000, details: { input: 879_000, output: 500_000 } },
    worked: "prompt 2,930 = TEXT 42 + IMAGE 258 + VIDEO 2,630, all at $0.30: 879,000 n$; output 200 × $2.50 = 500,000 n$; total 1,379,000 n$",
    price: PRICE_FLASH,
  },
  // --- gemini-2.5-pro's > 200K prompt tier ---------------------------------------------------------------------
  {
    name: "gemini: gemini-2.5-pro, JSON, 250,000-token prompt: the whole call at the > 200K rates",
    client: "gemini",
    model: PRO,
    stream: false,
    reply: { body: json(PRO, t("Long summary."), { prompt: 250_000, candidates: 2_000, thoughts: 1_000 }) },
    expected: { nanoUsd: 670_000_000, details: { input: 625_000_000, output: 30_000_000, output_reasoning: 15_000_000 } },
    worked: "prompt 250,000 > 200,000: input 250,000 × $2.50 = 625,000,000 n$; candidates 2,000 × $15 = 30,000,000 n$; thoughts 1,000 × $15 = 15,000,000 n$; total 670,000,000 n$",
    price: PRICE_PRO_LONG,
  },
  {
    name: "gemini: gemini-2.5-pro, SSE, 300,000-token prompt with 200,000 cached: > 200K rates, cache included",
    client: "gemini",
    model: PRO,
    stream: true,
    reply: {
      body: stream(PRO, [
        [t("Long"), { prompt: 300_000, cached: 200_000, thoughts: 2_000, candidates: 400 }],
        [t(" summary."), { prompt: 300_000, cached: 200_000, thoughts: 2_000, candidates: 1_000 }],
      ]),
    },
    expected: { nanoUsd: 345_000_000, details: { input: 250_000_000, input_cache_read: 50_000_000, output: 15_000_000, output_reasoning: 30_000_000 } },
    worked:
      "prompt 300,000 (> 200,000) incl. 200,000 cached: uncached 100,000 × $2.50 = 250,000,000 n$; cached 200,000 × $0.25 = 50,000,000 n$; " +
      "candidates 1,000 × $15 = 15,000,000 n$; thoughts 2,000 × $15 = 30,000,000 n$; total 345,000,000 n$",
    price: PRICE_PRO_LONG,
  },
  {
    name: "gemini: gemini-2.5-pro, JSON, exactly 200,000 prompt tokens: still the <= 200K rates",
    client: "gemini",
    model: PRO,
    stream: false,
    reply: { body: json(PRO, t("Summary."), { prompt: 200_000, candidates: 500 }) },
    expected: { nanoUsd: 255_000_000, details: { input: 250_000_000, output: 5_000_000 } },
    worked: "prompt 200,000 is not > 200,000: input 200,000 × $1.25 = 250,000,000 n$; output 500 × $10 = 5,000,000 n$; total 255,000,000 n$",
    price: PRICE_PRO,
  },
];
