/**
 * OpenRouter (https://openrouter.ai/docs/api-reference/overview, usage:
 * https://openrouter.ai/docs/use-cases/usage-accounting): OpenAI's chat shape; `model` in the response is the
 * model that served the call (for `openrouter/auto`, the one the router picked); `usage` always carries
 * `cost` (USD credits charged), `is_byok`, `cost_details`, `prompt_tokens_details.cached_tokens` and
 * `completion_tokens_details.reasoning_tokens`. Streamed, the usage comes on the last SSE message;
 * `: OPENROUTER PROCESSING` comment lines may appear between events.
 */
import { sse } from "../replay-server.js";
import type { Vector } from "../vector.js";

const BASE = "https://openrouter.ai/api/v1";

const usage = (prompt: number, cached: number, completion: number, cost: number, upstream: { prompt: number; completion: number }) => ({
  prompt_tokens: prompt,
  completion_tokens: completion,
  total_tokens: prompt + completion,
  cost,
  is_byok: false,
  prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
  cost_details: { upstream_inference_cost: null, upstream_inference_prompt_cost: upstream.prompt, upstream_inference_completions_cost: upstream.completion },
  completion_tokens_details: { reasoning_tokens: 0, image_tokens: 0 },
});

const completion = (model: string, provider: string, u: unknown) =>
  JSON.stringify({
    id: "gen-1763208000-corpus",
    provider,
    model,
    object: "chat.completion",
    created: 1763208000,
    choices: [{ logprobs: null, finish_reason: "stop", native_finish_reason: "stop", index: 0, message: { role: "assistant", content: "Hello!", refusal: null, reasoning: null } }],
    system_fingerprint: "fp_corpus",
    usage: u,
  });

// 1,000 prompt tokens of which 500 were a cache hit, 200 completion tokens; the upstream provider billed the
// whole prompt at the uncached rate (no cache discount on its side), so OpenRouter's `cost` is 0.00027 USD.
const cachedUsage = usage(1000, 500, 200, 0.00027, { prompt: 0.00015, completion: 0.00012 });
const OURS_WORKED = [
  "prompt 1,000, cached 500 → uncached 500",
  "uncached 500 × $0.15/M = 75,000 n$",
  "cached 500 × $0.075/M = 37,500 n$",
  "output 200 × $0.60/M = 120,000 n$",
  "ours: 75,000 + 37,500 + 120,000 = 232,500 n$",
  "reported usage.cost 0.00027 USD = 270,000 n$",
];
const PRICE =
  "https://openrouter.ai/openai/gpt-4o-mini (as of 2025-11-15): $0.15/M input, $0.60/M output, cache read $0.075/M (OpenAI's list price, passed through). genai-prices 0.1.8 openrouter/openai/gpt-4o-mini 0.15 / 0.075 / 0.6 — agrees";

export const vectors: Vector[] = [
  {
    name: "openrouter: openai/gpt-4o-mini, JSON, usage.cost reported, default costSource: our figure counts",
    client: "openai-chat",
    model: "openai/gpt-4o-mini",
    baseURL: BASE,
    stream: false,
    reply: { body: completion("openai/gpt-4o-mini", "OpenAI", cachedUsage) },
    expected: { nanoUsd: 232_500, details: { input: 75_000, input_cache_read: 37_500, output: 120_000 }, model: "openai/gpt-4o-mini", provider: "openrouter" },
    worked: [...OURS_WORKED, "costSource 'ours' (default): 232,500 n$ counts"].join("\n"),
    price: PRICE,
  },
  {
    name: "openrouter: openai/gpt-4o-mini, JSON, costSource reported: usage.cost counts",
    client: "openai-chat",
    model: "openai/gpt-4o-mini",
    baseURL: BASE,
    stream: false,
    metering: { costSource: "reported" },
    reply: { body: completion("openai/gpt-4o-mini", "OpenAI", cachedUsage) },
    // Details stay ours (they sum to our figure); the total is the report.
    expected: { nanoUsd: 270_000, details: { input: 75_000, input_cache_read: 37_500, output: 120_000 }, model: "openai/gpt-4o-mini", provider: "openrouter" },
    worked: [...OURS_WORKED, "costSource 'reported': 0.00027 USD × 1e9 = 270,000 n$ counts"].join("\n"),
    price: PRICE,
  },
  {
    name: "openrouter: openrouter/auto routed to openai/gpt-4o-mini, JSON, default costSource: the served model's price",
    client: "openai-chat",
    model: "openrouter/auto",
    baseURL: BASE,
    stream: false,
    reply: { body: completion("openai/gpt-4o-mini", "OpenAI", cachedUsage) },
    expected: { nanoUsd: 232_500, details: { input: 75_000, input_cache_read: 37_500, output: 120_000 }, model: "openai/gpt-4o-mini", provider: "openrouter" },
    worked: ["requested openrouter/auto (no price of its own); the response names openai/gpt-4o-mini", ...OURS_WORKED, "costSource 'ours': the served model's price decides, 232,500 n$"].join("\n"),
    price: `${PRICE}. genai-prices 0.1.8 has no entry for openrouter/auto (it is a router, not a model)`,
    covers: "routed-model",
  },
  {
    name: "openrouter: openrouter/auto routed to openai/gpt-4o-mini, SSE, costSource reported: the report counts",
    client: "openai-chat",
    model: "openrouter/auto",
    baseURL: BASE,
    stream: true,
    metering: { costSource: "reported" },
    reply: {
      body:
        ": OPENROUTER PROCESSING\n\n" +
        sse([
          { id: "gen-1763208000-corpus-s", provider: "OpenAI", model: "openai/gpt-4o-mini", object: "chat.completion.chunk", created: 1763208000, choices: [{ index: 0, delta: { role: "assistant", content: "Hello!" }, finish_reason: null, native_finish_reason: null, logprobs: null }] },
          { id: "gen-1763208000-corpus-s", provider: "OpenAI", model: "openai/gpt-4o-mini", object: "chat.completion.chunk", created: 1763208000, choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: "stop", native_finish_reason: "stop", logprobs: null }] },
          { id: "gen-1763208000-corpus-s", provider: "OpenAI", model: "openai/gpt-4o-mini", object: "chat.completion.chunk", created: 1763208000, choices: [], usage: cachedUsage },
        ], { done: true }),
      headers: { "content-type": "text/event-stream" },
    },
    expected: { nanoUsd: 270_000, model: "openai/gpt-4o-mini", provider: "openrouter" },
    worked: ["requested openrouter/auto; served by openai/gpt-4o-mini", ...OURS_WORKED, "costSource 'reported': 270,000 n$ counts"].join("\n"),
    price: PRICE,
    // Routed-model class, but it passes already: under costSource "reported" no price of the requested
    // model is needed (f5aee35), and the served model's name is taken from the response. Runs as exact.
  },
  {
    name: "openrouter: a :free model served by its paid variant, JSON, costSource reported: the reported cost counts",
    client: "openai-chat",
    model: "meta-llama/llama-3.3-70b-instruct:free",
    baseURL: BASE,
    stream: false,
    metering: { costSource: "reported" },
    reply: {
      body: completion("meta-llama/llama-3.3-70b-instruct", "DeepInfra", {
        prompt_tokens: 1000,
        completion_tokens: 50,
        total_tokens: 1050,
        cost: 0.000063,
        is_byok: false,
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
        cost_details: { upstream_inference_cost: null, upstream_inference_prompt_cost: 0.00005, upstream_inference_completions_cost: 0.000013 },
        completion_tokens_details: { reasoning_tokens: 0, image_tokens: 0 },
      }),
    },
    expected: { nanoUsd: 63_000, model: "meta-llama/llama-3.3-70b-instruct", provider: "openrouter" },
    worked: [
      "requested the :free variant (genai-prices: no price, {}); the response names the paid meta-llama/llama-3.3-70b-instruct and a non-zero usage.cost",
      "costSource 'reported': 0.000063 USD × 1e9 = 63,000 n$ counts (not $0 for ':free')",
      "for comparison, ours at genai-prices' openrouter/meta-llama/llama-3.3-70b-instruct {0.05, 0.24}: 1,000 × 0.05 + 50 × 0.24 = 50,000 + 12,000 = 62,000 n$",
    ].join("\n"),
    price: "The reported cost is the figure; OpenRouter's per-provider prices for llama-3.3-70b-instruct vary by endpoint, so no list price is asserted here",
    // Routed-model class, but it passes already (see the SSE vector above). Runs as exact.
  },
  {
    name: "openrouter: a :free model served by its paid variant, JSON, default costSource: the served model's price",
    client: "openai-chat",
    model: "meta-llama/llama-3.3-70b-instruct:free",
    baseURL: BASE,
    stream: false,
    reply: {
      body: completion("meta-llama/llama-3.3-70b-instruct", "DeepInfra", {
        prompt_tokens: 1000,
        completion_tokens: 50,
        total_tokens: 1050,
        cost: 0.000063,
        is_byok: false,
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
        cost_details: { upstream_inference_cost: null, upstream_inference_prompt_cost: 0.00005, upstream_inference_completions_cost: 0.000013 },
        completion_tokens_details: { reasoning_tokens: 0, image_tokens: 0 },
      }),
    },
    expected: { nanoUsd: 62_000, details: { input: 50_000, output: 12_000 }, model: "meta-llama/llama-3.3-70b-instruct", provider: "openrouter" },
    worked: [
      "requested the :free variant (genai-prices: an entry with no prices, {}); served by meta-llama/llama-3.3-70b-instruct",
      "costSource 'ours': the served model's price decides",
      "input 1,000 × $0.05/M = 50,000 n$",
      "output 50 × $0.24/M = 12,000 n$",
      "total 50,000 + 12,000 = 62,000 n$ (the report, 63,000 n$, is kept beside it)",
    ].join("\n"),
    price:
      "genai-prices 0.1.8 openrouter/meta-llama/llama-3.3-70b-instruct {input 0.05, output 0.24} (our prices, as the brief asks); OpenRouter's per-endpoint price for this model varies, not independently checked against a list price",
    covers: "routed-model",
  },
];
