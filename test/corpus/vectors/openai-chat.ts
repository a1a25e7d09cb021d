/**
 * OpenAI Chat Completions (https://platform.openai.com/docs/api-reference/chat/object): `usage.prompt_tokens`
 * includes `prompt_tokens_details.cached_tokens` and `.audio_tokens`; `completion_tokens` includes
 * `completion_tokens_details.reasoning_tokens` and `.audio_tokens`.
 */
import { sse } from "../replay-server.js";
import type { Vector } from "../vector.js";

const completion = (model: string, usage: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    id: "chatcmpl-corpus",
    object: "chat.completion",
    created: 1763208000,
    model,
    choices: [{ index: 0, message: { role: "assistant", content: "Hello!", refusal: null, annotations: [] }, logprobs: null, finish_reason: "stop" }],
    usage,
    service_tier: "default",
    system_fingerprint: "fp_corpus",
    ...extra,
  });

export const vectors: Vector[] = [
  {
    name: "openai chat: gpt-4o-mini, JSON, 1,500 of 2,000 input tokens cached",
    client: "openai-chat",
    model: "gpt-4o-mini",
    stream: false,
    reply: {
      body: completion("gpt-4o-mini-2024-07-18", {
        prompt_tokens: 2000,
        completion_tokens: 300,
        total_tokens: 2300,
        prompt_tokens_details: { cached_tokens: 1500, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
      }),
    },
    expected: { nanoUsd: 367_500, details: { input: 75_000, input_cache_read: 112_500, output: 180_000 }, model: "gpt-4o-mini-2024-07-18", provider: "openai" },
    worked: "uncached 500 × $0.15 = 75,000 n$; cached 1,500 × $0.075 = 112,500 n$; output 300 × $0.60 = 180,000 n$; total 367,500 n$",
    price: "https://openai.com/api/pricing (read 2025-11-15): gpt-4o-mini input $0.15, cached $0.075, output $0.60 per 1M; genai-prices 0.1.8 agrees",
  },
  {
    name: "openai chat: gpt-4o-mini, SSE with include_usage, the same usage on the last chunk",
    client: "openai-chat",
    model: "gpt-4o-mini",
    stream: true,
    reply: {
      body: sse(
        [
          { id: "chatcmpl-corpus", object: "chat.completion.chunk", created: 1763208000, model: "gpt-4o-mini-2024-07-18", choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }], usage: null },
          { id: "chatcmpl-corpus", object: "chat.completion.chunk", created: 1763208000, model: "gpt-4o-mini-2024-07-18", choices: [{ index: 0, delta: { content: "Hello!" }, finish_reason: null }], usage: null },
          { id: "chatcmpl-corpus", object: "chat.completion.chunk", created: 1763208000, model: "gpt-4o-mini-2024-07-18", choices: [{ index: 0, delta: {}, finish_reason: "stop" }], usage: null },
          {
            id: "chatcmpl-corpus",
            object: "chat.completion.chunk",
            created: 1763208000,
            model: "gpt-4o-mini-2024-07-18",
            choices: [],
            usage: { prompt_tokens: 2000, completion_tokens: 300, total_tokens: 2300, prompt_tokens_details: { cached_tokens: 1500, audio_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 } },
          },
        ],
        { done: true },
      ),
    },
    expected: { nanoUsd: 367_500, details: { input: 75_000, input_cache_read: 112_500, output: 180_000 } },
    worked: "as the JSON vector: 75,000 + 112,500 + 180,000 = 367,500 n$",
    price: "https://openai.com/api/pricing (read 2025-11-15); genai-prices 0.1.8 agrees",
  },
  // --- OpenAI-compatible family, Chat Completions (https://platform.openai.com/docs/api-reference/chat/object) ---
  {
    name: "openai chat: o4-mini, JSON, reasoning tokens and a cached prefix",
    client: "openai-chat",
    model: "o4-mini",
    stream: false,
    reply: {
      body: completion("o4-mini-2025-04-16", {
        prompt_tokens: 1200,
        completion_tokens: 800,
        total_tokens: 2000,
        prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 640, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
      }),
    },
    expected: {
      nanoUsd: 3_995_200,
      details: { input: 193_600, input_cache_read: 281_600, output: 704_000, output_reasoning: 2_816_000 },
      model: "o4-mini-2025-04-16",
      provider: "openai",
    },
    worked: [
      "prompt 1,200 of which cached 1,024 → uncached 176",
      "uncached 176 × $1.10/M = 193,600 n$",
      "cached 1,024 × $0.275/M = 281,600 n$",
      "completion 800 of which reasoning 640 → visible 160",
      "visible 160 × $4.40/M = 704,000 n$",
      "reasoning 640 × $4.40/M (billed as output) = 2,816,000 n$",
      "total 193,600 + 281,600 + 704,000 + 2,816,000 = 3,995,200 n$",
    ].join("\n"),
    price:
      "https://platform.openai.com/docs/pricing (OpenAI list, as of 2025-11-15): o4-mini input $1.10, cached input $0.275, output $4.40 per 1M; reasoning tokens are billed as output. genai-prices 0.1.8 (openai/o4-mini): 1.1 / 0.275 / 4.4 — agrees",
  },
  {
    name: "openai chat: gpt-5-mini, SSE, reasoning + cache on the choices:[] usage chunk",
    client: "openai-chat",
    model: "gpt-5-mini",
    stream: true,
    reply: {
      body: sse(
        [
          { id: "chatcmpl-corpus-g5m", object: "chat.completion.chunk", created: 1763208000, model: "gpt-5-mini-2025-08-07", service_tier: "default", system_fingerprint: null, choices: [{ index: 0, delta: { role: "assistant", content: "", refusal: null }, logprobs: null, finish_reason: null }], usage: null, obfuscation: "a1" },
          { id: "chatcmpl-corpus-g5m", object: "chat.completion.chunk", created: 1763208000, model: "gpt-5-mini-2025-08-07", service_tier: "default", system_fingerprint: null, choices: [{ index: 0, delta: { content: "Hello!" }, logprobs: null, finish_reason: null }], usage: null, obfuscation: "b2c3" },
          { id: "chatcmpl-corpus-g5m", object: "chat.completion.chunk", created: 1763208000, model: "gpt-5-mini-2025-08-07", service_tier: "default", system_fingerprint: null, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: "stop" }], usage: null, obfuscation: "d4" },
          {
            id: "chatcmpl-corpus-g5m",
            object: "chat.completion.chunk",
            created: 1763208000,
            model: "gpt-5-mini-2025-08-07",
            service_tier: "default",
            system_fingerprint: null,
            choices: [],
            usage: {
              prompt_tokens: 3000,
              completion_tokens: 1500,
              total_tokens: 4500,
              prompt_tokens_details: { cached_tokens: 2048, audio_tokens: 0 },
              completion_tokens_details: { reasoning_tokens: 1216, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
            },
            obfuscation: "e5f6g7",
          },
        ],
        { done: true },
      ),
    },
    expected: {
      nanoUsd: 3_289_200,
      details: { input: 238_000, input_cache_read: 51_200, output: 568_000, output_reasoning: 2_432_000 },
      model: "gpt-5-mini-2025-08-07",
      provider: "openai",
    },
    worked: [
      "prompt 3,000, cached 2,048 → uncached 952",
      "uncached 952 × $0.25/M = 238,000 n$",
      "cached 2,048 × $0.025/M = 51,200 n$",
      "completion 1,500, reasoning 1,216 → visible 284",
      "visible 284 × $2.00/M = 568,000 n$",
      "reasoning 1,216 × $2.00/M = 2,432,000 n$",
      "total 238,000 + 51,200 + 568,000 + 2,432,000 = 3,289,200 n$",
    ].join("\n"),
    price:
      "https://platform.openai.com/docs/pricing (as of 2025-11-15): gpt-5-mini input $0.25, cached $0.025, output $2.00 per 1M. genai-prices 0.1.8 (openai/gpt-5-mini): 0.25 / 0.025 / 2 — agrees",
  },
  {
    name: "openai chat: gpt-4o-audio-preview, JSON, audio in and audio out",
    client: "openai-chat",
    model: "gpt-4o-audio-preview",
    stream: false,
    fields: { modalities: ["text", "audio"], audio: { voice: "alloy", format: "wav" } },
    reply: {
      body: JSON.stringify({
        id: "chatcmpl-corpus-audio",
        object: "chat.completion",
        created: 1763208000,
        model: "gpt-4o-audio-preview-2025-06-03",
        choices: [
          {
            index: 0,
            message: {
              role: "assistant",
              content: null,
              refusal: null,
              audio: { id: "audio_corpus", data: "UklGRiQAAABXQVZFZm10IBAAAAABAAEAwF0AAIC7AAACABAAZGF0YQAAAAA=", expires_at: 1763211600, transcript: "Hello!" },
              annotations: [],
            },
            logprobs: null,
            finish_reason: "stop",
          },
        ],
        usage: {
          prompt_tokens: 1000,
          completion_tokens: 500,
          total_tokens: 1500,
          prompt_tokens_details: { cached_tokens: 0, audio_tokens: 800, text_tokens: 200, image_tokens: 0 },
          completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 400, text_tokens: 100, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
        },
        service_tier: "default",
        system_fingerprint: "fp_corpus",
      }),
    },
    expected: {
      nanoUsd: 65_500_000,
      details: { input: 500_000, input_audio: 32_000_000, output: 1_000_000, output_audio: 32_000_000 },
      model: "gpt-4o-audio-preview-2025-06-03",
      provider: "openai",
    },
    worked: [
      "prompt 1,000 = text 200 + audio 800",
      "text in 200 × $2.50/M = 500,000 n$",
      "audio in 800 × $40.00/M = 32,000,000 n$",
      "completion 500 = text 100 + audio 400",
      "text out 100 × $10.00/M = 1,000,000 n$",
      "audio out 400 × $80.00/M = 32,000,000 n$",
      "total 500,000 + 32,000,000 + 1,000,000 + 32,000,000 = 65,500,000 n$",
    ].join("\n"),
    price:
      "https://developers.openai.com/api/docs/models/gpt-4o-audio-preview (stored copy, read 2026-12-01 via the search tool; default snapshot gpt-4o-audio-preview-2025-06-03): text $2.50 in / $10.00 out, audio $40.00 in / $80.00 out per 1M. genai-prices 0.1.8 has text rates only — DISAGREES on audio",
    covers: "audio-without-rate",
    priceDataGap:
      "genai-prices 0.1.8 openai/gpt-4o-audio-preview (match starts_with 'gpt-4o-audio-preview'): {input_mtok: 2.5, output_mtok: 10} — no input_audio_mtok / output_audio_mtok, so audio falls back to the text rates (our figure today: 1,000 × $2.50 + 500 × $10 = 7,500,000 n$, 8.7× under). OpenAI's model page lists audio at $40 in / $80 out per 1M (the 2024-10-01 snapshot was $100 / $200, per the same page's snapshot list and OpenAI's pricing history). Same gap for gpt-4o-mini-audio-preview ({0.15, 0.6}, list audio $10 / $20). Compare genai-prices' own gpt-audio entry, which does carry input_audio_mtok 32 / output_audio_mtok 64.",
  },
  {
    name: "openai chat: gpt-4o-audio-preview, SSE, audio deltas then the usage chunk",
    client: "openai-chat",
    model: "gpt-4o-audio-preview",
    stream: true,
    fields: { modalities: ["text", "audio"], audio: { voice: "alloy", format: "pcm16" } },
    reply: {
      body: sse(
        [
          { id: "chatcmpl-corpus-audio-s", object: "chat.completion.chunk", created: 1763208000, model: "gpt-4o-audio-preview-2025-06-03", service_tier: "default", system_fingerprint: "fp_corpus", choices: [{ index: 0, delta: { role: "assistant", content: null, refusal: null }, logprobs: null, finish_reason: null }], usage: null },
          { id: "chatcmpl-corpus-audio-s", object: "chat.completion.chunk", created: 1763208000, model: "gpt-4o-audio-preview-2025-06-03", service_tier: "default", system_fingerprint: "fp_corpus", choices: [{ index: 0, delta: { audio: { id: "audio_corpus_s", transcript: "Hello!" } }, logprobs: null, finish_reason: null }], usage: null },
          { id: "chatcmpl-corpus-audio-s", object: "chat.completion.chunk", created: 1763208000, model: "gpt-4o-audio-preview-2025-06-03", service_tier: "default", system_fingerprint: "fp_corpus", choices: [{ index: 0, delta: { audio: { data: "AAAAAAAAAAA=" } }, logprobs: null, finish_reason: null }], usage: null },
          { id: "chatcmpl-corpus-audio-s", object: "chat.completion.chunk", created: 1763208000, model: "gpt-4o-audio-preview-2025-06-03", service_tier: "default", system_fingerprint: "fp_corpus", choices: [{ index: 0, delta: { audio: { expires_at: 1763211600 } }, logprobs: null, finish_reason: "stop" }], usage: null },
          {
            id: "chatcmpl-corpus-audio-s",
            object: "chat.completion.chunk",
            created: 1763208000,
            model: "gpt-4o-audio-preview-2025-06-03",
            service_tier: "default",
            system_fingerprint: "fp_corpus",
            choices: [],
            usage: {
              prompt_tokens: 420,
              completion_tokens: 260,
              total_tokens: 680,
              prompt_tokens_details: { cached_tokens: 0, audio_tokens: 300, text_tokens: 120, image_tokens: 0 },
              completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 200, text_tokens: 60, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
            },
          },
        ],
        { done: true },
      ),
    },
    expected: { nanoUsd: 28_900_000, details: { input: 300_000, input_audio: 12_000_000, output: 600_000, output_audio: 16_000_000 } },
    worked: [
      "prompt 420 = text 120 + audio 300; completion 260 = text 60 + audio 200",
      "text in 120 × $2.50/M = 300,000 n$",
      "audio in 300 × $40.00/M = 12,000,000 n$",
      "text out 60 × $10.00/M = 600,000 n$",
      "audio out 200 × $80.00/M = 16,000,000 n$",
      "total 300,000 + 12,000,000 + 600,000 + 16,000,000 = 28,900,000 n$",
    ].join("\n"),
    price:
      "https://developers.openai.com/api/docs/models/gpt-4o-audio-preview (stored copy, read 2026-12-01): text $2.50 / $10.00, audio $40.00 / $80.00 per 1M; genai-prices 0.1.8 lacks the audio rates (see the JSON vector)",
    covers: "audio-without-rate",
    priceDataGap:
      "genai-prices 0.1.8 openai/gpt-4o-audio-preview = {input_mtok 2.5, output_mtok 10}, no audio rates: our figure today 420 × $2.50 + 260 × $10 = 3,650,000 n$ against the list 28,900,000 n$.",
  },
  {
    name: "openai chat: gpt-4o-mini, JSON, n: 2 — usage covers both choices",
    client: "openai-chat",
    model: "gpt-4o-mini",
    stream: false,
    fields: { n: 2 },
    reply: {
      body: JSON.stringify({
        id: "chatcmpl-corpus-n2",
        object: "chat.completion",
        created: 1763208000,
        model: "gpt-4o-mini-2024-07-18",
        choices: [
          { index: 0, message: { role: "assistant", content: "Hello!", refusal: null, annotations: [] }, logprobs: null, finish_reason: "stop" },
          { index: 1, message: { role: "assistant", content: "Hi there!", refusal: null, annotations: [] }, logprobs: null, finish_reason: "stop" },
        ],
        usage: {
          prompt_tokens: 100,
          completion_tokens: 240,
          total_tokens: 340,
          prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
          completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
        },
        service_tier: "default",
        system_fingerprint: "fp_corpus",
      }),
    },
    expected: { nanoUsd: 159_000, details: { input: 15_000, output: 144_000 }, model: "gpt-4o-mini-2024-07-18", provider: "openai" },
    worked: [
      "the prompt is billed once: 100 × $0.15/M = 15,000 n$",
      "completion_tokens 240 are both choices together: 240 × $0.60/M = 144,000 n$",
      "total 15,000 + 144,000 = 159,000 n$ (once per call, not per choice)",
    ].join("\n"),
    price: "https://platform.openai.com/docs/pricing (as of 2025-11-15): gpt-4o-mini $0.15 in / $0.60 out per 1M; genai-prices 0.1.8 agrees",
  },
];
