/**
 * xAI (https://docs.x.ai/docs/api-reference#chat-completions), base URL https://api.x.ai/v1, which
 * genai-prices 0.1.8 maps to provider id "x-ai". OpenAI's chat shape plus `num_sources_used` and
 * `cost_in_usd_ticks`; cached prompt tokens in `prompt_tokens_details.cached_tokens` (inside prompt_tokens).
 * Unlike OpenAI, `completion_tokens_details.reasoning_tokens` are NOT inside `completion_tokens`:
 * total_tokens = prompt + completion + reasoning (xAI's reasoning guide, https://docs.x.ai/docs/guides/reasoning,
 * and Google's Grok-on-Vertex page, whose example reads prompt 663 + completion 50 + reasoning 124 = total 837).
 * Reasoning tokens are billed at the output rate.
 */
import { sse } from "../replay-server.js";
import type { Vector } from "../vector.js";

const BASE = "https://api.x.ai/v1";
const completion = (model: string, usage: unknown, message: Record<string, unknown> = {}) =>
  JSON.stringify({
    id: "3c4a5f1e-corpus",
    object: "chat.completion",
    created: 1763208000,
    model,
    choices: [{ index: 0, message: { role: "assistant", content: "Hello!", refusal: null, ...message }, finish_reason: "stop" }],
    usage,
    system_fingerprint: "fp_corpus",
  });

const PRICE =
  "https://docs.x.ai/docs/models (as of 2025-11-15): grok-4-1-fast-reasoning / -non-reasoning $0.20 in / $0.05 cached / $0.50 out per 1M (<128k context); grok-3-mini $0.30 / $0.075 / $0.50";

export const vectors: Vector[] = [
  {
    name: "xai: grok-4-1-fast-non-reasoning, JSON, cached prompt",
    client: "openai-chat",
    model: "grok-4-1-fast-non-reasoning",
    baseURL: BASE,
    stream: false,
    reply: {
      body: completion("grok-4-1-fast-non-reasoning", {
        prompt_tokens: 5000,
        completion_tokens: 400,
        total_tokens: 5400,
        prompt_tokens_details: { text_tokens: 5000, audio_tokens: 0, image_tokens: 0, cached_tokens: 4500 },
        completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
        num_sources_used: 0,
        cost_in_usd_ticks: 5250000,
      }),
    },
    expected: { nanoUsd: 525_000, details: { input: 100_000, input_cache_read: 225_000, output: 200_000 }, model: "grok-4-1-fast-non-reasoning", provider: "x-ai" },
    worked: [
      "prompt 5,000, cached 4,500 → uncached 500",
      "uncached 500 × $0.20/M = 100,000 n$",
      "cached 4,500 × $0.05/M = 225,000 n$",
      "output 400 × $0.50/M = 200,000 n$",
      "total 100,000 + 225,000 + 200,000 = 525,000 n$ (= cost_in_usd_ticks 5,250,000 × 1e-10 USD)",
    ].join("\n"),
    price: `${PRICE}. genai-prices 0.1.8 x-ai/grok-4-1-fast-non-reasoning 0.2 / 0.05 / 0.5 — agrees`,
  },
  {
    name: "xai: grok-4-1-fast-non-reasoning, SSE, usage on the choices:[] chunk",
    client: "openai-chat",
    model: "grok-4-1-fast-non-reasoning",
    baseURL: BASE,
    stream: true,
    reply: {
      body: sse(
        [
          { id: "7e2b-corpus", object: "chat.completion.chunk", created: 1763208000, model: "grok-4-1-fast-non-reasoning", choices: [{ index: 0, delta: { content: "Hello", role: "assistant" } }], system_fingerprint: "fp_corpus" },
          { id: "7e2b-corpus", object: "chat.completion.chunk", created: 1763208000, model: "grok-4-1-fast-non-reasoning", choices: [{ index: 0, delta: { content: "!" }, finish_reason: "stop" }], system_fingerprint: "fp_corpus" },
          {
            id: "7e2b-corpus",
            object: "chat.completion.chunk",
            created: 1763208000,
            model: "grok-4-1-fast-non-reasoning",
            choices: [],
            usage: {
              prompt_tokens: 1200,
              completion_tokens: 300,
              total_tokens: 1500,
              prompt_tokens_details: { text_tokens: 1200, audio_tokens: 0, image_tokens: 0, cached_tokens: 0 },
              completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
              num_sources_used: 0,
            },
            system_fingerprint: "fp_corpus",
          },
        ],
        { done: true },
      ),
    },
    expected: { nanoUsd: 390_000, details: { input: 240_000, output: 150_000 } },
    worked: ["input 1,200 × $0.20/M = 240,000 n$", "output 300 × $0.50/M = 150,000 n$", "total 240,000 + 150,000 = 390,000 n$"].join("\n"),
    price: `${PRICE}. genai-prices 0.1.8 agrees`,
  },
  {
    name: "xai: grok-4-1-fast-reasoning, JSON, reasoning_tokens reported OUTSIDE completion_tokens",
    client: "openai-chat",
    covers: "xai-reasoning-outside-completion",
    model: "grok-4-1-fast-reasoning",
    baseURL: BASE,
    stream: false,
    reply: {
      body: completion("grok-4-1-fast-reasoning", {
        prompt_tokens: 663,
        completion_tokens: 50,
        total_tokens: 837,
        prompt_tokens_details: { text_tokens: 663, audio_tokens: 0, image_tokens: 0, cached_tokens: 654 },
        completion_tokens_details: { reasoning_tokens: 124, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
        num_sources_used: 0,
        cost_in_usd_ticks: 1215000,
      }),
    },
    expected: { nanoUsd: 121_500, details: { input: 1_800, input_cache_read: 32_700, output: 25_000, output_reasoning: 62_000 }, model: "grok-4-1-fast-reasoning", provider: "x-ai" },
    worked: [
      "total 837 = prompt 663 + completion 50 + reasoning 124: reasoning is on top of completion",
      "prompt 663, cached 654 → uncached 9",
      "uncached 9 × $0.20/M = 1,800 n$",
      "cached 654 × $0.05/M = 32,700 n$",
      "answer (completion_tokens) 50 × $0.50/M = 25,000 n$",
      "reasoning 124 × $0.50/M = 62,000 n$",
      "total 1,800 + 32,700 + 25,000 + 62,000 = 121,500 n$ (= cost_in_usd_ticks 1,215,000 × 1e-10 USD)",
    ].join("\n"),
    price: `${PRICE}. genai-prices 0.1.8 x-ai/grok-4-1-fast-reasoning 0.2 / 0.05 / 0.5 — agrees`,
  },
  {
    name: "xai: grok-3-mini, JSON, reasoning_content with reasoning_tokens outside completion_tokens",
    client: "openai-chat",
    covers: "xai-reasoning-outside-completion",
    model: "grok-3-mini",
    baseURL: BASE,
    stream: false,
    reply: {
      body: completion(
        "grok-3-mini",
        {
          prompt_tokens: 32,
          completion_tokens: 14,
          total_tokens: 356,
          prompt_tokens_details: { text_tokens: 32, audio_tokens: 0, image_tokens: 0, cached_tokens: 0 },
          completion_tokens_details: { reasoning_tokens: 310, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
          num_sources_used: 0,
        },
        { reasoning_content: "101 × 3 = 303." },
      ),
    },
    expected: { nanoUsd: 171_600, details: { input: 9_600, output: 7_000, output_reasoning: 155_000 }, model: "grok-3-mini", provider: "x-ai" },
    worked: [
      "total 356 = prompt 32 + completion 14 + reasoning 310",
      "input 32 × $0.30/M = 9,600 n$",
      "answer 14 × $0.50/M = 7,000 n$",
      "reasoning 310 × $0.50/M = 155,000 n$",
      "total 9,600 + 7,000 + 155,000 = 171,600 n$",
    ].join("\n"),
    price: `${PRICE}. genai-prices 0.1.8 x-ai/grok-3-mini 0.3 / 0.075 / 0.5 — agrees`,
  },
];
