/**
 * Groq (https://console.groq.com/docs/api-reference#chat-create): OpenAI's chat shape plus timing fields in
 * `usage` (queue_time, prompt_time, completion_time, total_time) and an `x_groq` object. Streamed, the last
 * chunk (the one with `finish_reason`) carries the usage, top-level and again in `x_groq.usage`.
 * Prompt caching (models that have it) reports `usage.prompt_tokens_details.cached_tokens`, inside prompt_tokens.
 */
import { sse } from "../replay-server.js";
import type { Vector } from "../vector.js";

const BASE = "https://api.groq.com/openai/v1";
const chunk = (model: string, choice: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  id: "chatcmpl-bc4c2b5f-corpus",
  object: "chat.completion.chunk",
  created: 1763208000,
  model,
  system_fingerprint: "fp_c06d5113ec",
  choices: [{ index: 0, logprobs: null, finish_reason: null, ...choice }],
  ...extra,
});

export const vectors: Vector[] = [
  {
    name: "groq: llama-3.3-70b-versatile, JSON, usage with Groq's timing fields",
    client: "openai-chat",
    model: "llama-3.3-70b-versatile",
    baseURL: BASE,
    stream: false,
    reply: {
      body: JSON.stringify({
        id: "chatcmpl-f51b2cd2-corpus",
        object: "chat.completion",
        created: 1763208000,
        model: "llama-3.3-70b-versatile",
        choices: [{ index: 0, message: { role: "assistant", content: "Hello!" }, logprobs: null, finish_reason: "stop" }],
        usage: { queue_time: 0.018, prompt_tokens: 1850, prompt_time: 0.041, completion_tokens: 420, completion_time: 1.5, total_tokens: 2270, total_time: 1.541 },
        usage_breakdown: null,
        system_fingerprint: "fp_c06d5113ec",
        x_groq: { id: "req_01corpusgroqjson" },
        service_tier: "on_demand",
      }),
    },
    expected: { nanoUsd: 1_423_300, details: { input: 1_091_500, output: 331_800 }, model: "llama-3.3-70b-versatile", provider: "groq" },
    worked: ["input 1,850 × $0.59/M = 1,091,500 n$", "output 420 × $0.79/M = 331,800 n$", "total 1,091,500 + 331,800 = 1,423,300 n$"].join("\n"),
    price: "https://groq.com/pricing (list as of 2025-11-15): Llama 3.3 70B Versatile 128k $0.59 in / $0.79 out per 1M; genai-prices 0.1.8 groq/llama-3.3-70b-versatile 0.59 / 0.79 — agrees",
  },
  {
    name: "groq: llama-3.3-70b-versatile, SSE, usage on the finish chunk (top-level and x_groq.usage)",
    client: "openai-chat",
    model: "llama-3.3-70b-versatile",
    baseURL: BASE,
    stream: true,
    reply: {
      body: sse(
        [
          chunk("llama-3.3-70b-versatile", { delta: { role: "assistant", content: "" } }, { x_groq: { id: "req_01corpusgroqsse", seed: 2093329955 } }),
          chunk("llama-3.3-70b-versatile", { delta: { content: "Hello" } }),
          chunk("llama-3.3-70b-versatile", { delta: { content: "!" } }),
          chunk(
            "llama-3.3-70b-versatile",
            { delta: {}, finish_reason: "stop" },
            {
              usage: { queue_time: 0.09, prompt_tokens: 2400, prompt_time: 0.05, completion_tokens: 610, completion_time: 2.2, total_tokens: 3010, total_time: 2.25 },
              x_groq: { id: "req_01corpusgroqsse", usage: { queue_time: 0.09, prompt_tokens: 2400, prompt_time: 0.05, completion_tokens: 610, completion_time: 2.2, total_tokens: 3010, total_time: 2.25 } },
            },
          ),
        ],
        { done: true },
      ),
    },
    expected: { nanoUsd: 1_897_900, details: { input: 1_416_000, output: 481_900 } },
    worked: ["input 2,400 × $0.59/M = 1,416,000 n$", "output 610 × $0.79/M = 481,900 n$", "total 1,416,000 + 481,900 = 1,897,900 n$ (the usage counted once, not twice)"].join("\n"),
    price: "https://groq.com/pricing (as of 2025-11-15): $0.59 / $0.79 per 1M; genai-prices 0.1.8 agrees",
  },
  {
    name: "groq: kimi-k2-instruct-0905, JSON, prompt cache hit (cached_tokens inside prompt_tokens)",
    client: "openai-chat",
    model: "moonshotai/kimi-k2-instruct-0905",
    baseURL: BASE,
    stream: false,
    reply: {
      body: JSON.stringify({
        id: "chatcmpl-7d1e-corpus",
        object: "chat.completion",
        created: 1763208000,
        model: "moonshotai/kimi-k2-instruct-0905",
        choices: [{ index: 0, message: { role: "assistant", content: "Hello!" }, logprobs: null, finish_reason: "stop" }],
        usage: { queue_time: 0.02, prompt_tokens: 4000, prompt_time: 0.08, completion_tokens: 300, completion_time: 0.9, total_tokens: 4300, total_time: 0.98, prompt_tokens_details: { cached_tokens: 3072 } },
        usage_breakdown: null,
        system_fingerprint: "fp_5fe129dff6",
        x_groq: { id: "req_01corpusgroqkimi" },
        service_tier: "on_demand",
      }),
    },
    expected: { nanoUsd: 3_364_000, details: { input: 928_000, input_cache_read: 1_536_000, output: 900_000 }, model: "moonshotai/kimi-k2-instruct-0905", provider: "groq" },
    worked: [
      "prompt 4,000, cached 3,072 → uncached 928",
      "uncached 928 × $1.00/M = 928,000 n$",
      "cached 3,072 × $0.50/M (50% off) = 1,536,000 n$",
      "output 300 × $3.00/M = 900,000 n$",
      "total 928,000 + 1,536,000 + 900,000 = 3,364,000 n$",
    ].join("\n"),
    price: "https://groq.com/pricing and https://console.groq.com/docs/prompt-caching (as of 2025-11-15): Kimi K2-0905 $1.00 in / $3.00 out per 1M, cached input 50% off ($0.50); genai-prices 0.1.8 groq/moonshotai/kimi-k2-instruct 1 / cache 0.5 / 3 — agrees",
  },
];
