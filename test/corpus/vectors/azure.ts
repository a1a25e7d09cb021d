/**
 * Azure OpenAI, v1 API (https://learn.microsoft.com/azure/ai-foundry/openai/reference-preview-latest):
 * base URL https://{resource}.openai.azure.com/openai/v1, `model` in the request is the deployment name, the
 * response names the underlying model snapshot. OpenAI's chat shape plus `prompt_filter_results` and
 * per-choice `content_filter_results`; streamed, the first chunk has `choices: []` and the prompt filter
 * results, and (with include_usage) the last has `choices: []` and the usage.
 */
import { sse } from "../replay-server.js";
import type { Vector } from "../vector.js";

const BASE = "https://my-resource.openai.azure.com/openai/v1";
const FILTERS = { hate: { filtered: false, severity: "safe" }, self_harm: { filtered: false, severity: "safe" }, sexual: { filtered: false, severity: "safe" }, violence: { filtered: false, severity: "safe" } };
const PRICE =
  "https://azure.microsoft.com/pricing/details/cognitive-services/openai-service/ (as of 2025-11-15): GPT-4o-mini-0718 Global deployment $0.15 input / $0.075 cached input / $0.60 output per 1M; genai-prices 0.1.8 azure/gpt-4o-mini 0.15 / 0.075 / 0.6 — agrees";

export const vectors: Vector[] = [
  {
    name: "azure: gpt-4o-mini deployment, JSON, cached prompt, content filter results",
    client: "openai-chat",
    model: "gpt-4o-mini",
    baseURL: BASE,
    stream: false,
    reply: {
      body: JSON.stringify({
        choices: [{ content_filter_results: FILTERS, finish_reason: "stop", index: 0, logprobs: null, message: { annotations: [], content: "Hello!", refusal: null, role: "assistant" } }],
        created: 1763208000,
        id: "chatcmpl-azure-corpus",
        model: "gpt-4o-mini-2024-07-18",
        object: "chat.completion",
        prompt_filter_results: [{ prompt_index: 0, content_filter_results: FILTERS }],
        system_fingerprint: "fp_efad92c60b",
        usage: {
          completion_tokens: 500,
          completion_tokens_details: { accepted_prediction_tokens: 0, audio_tokens: 0, reasoning_tokens: 0, rejected_prediction_tokens: 0 },
          prompt_tokens: 2000,
          prompt_tokens_details: { audio_tokens: 0, cached_tokens: 1024 },
          total_tokens: 2500,
        },
      }),
    },
    expected: { nanoUsd: 523_200, details: { input: 146_400, input_cache_read: 76_800, output: 300_000 }, model: "gpt-4o-mini-2024-07-18", provider: "azure" },
    worked: [
      "prompt 2,000, cached 1,024 → uncached 976",
      "uncached 976 × $0.15/M = 146,400 n$",
      "cached 1,024 × $0.075/M = 76,800 n$",
      "output 500 × $0.60/M = 300,000 n$",
      "total 146,400 + 76,800 + 300,000 = 523,200 n$",
    ].join("\n"),
    price: PRICE,
  },
  {
    name: "azure: gpt-4o-mini deployment, SSE, prompt-filter chunk first, usage chunk last",
    client: "openai-chat",
    model: "gpt-4o-mini",
    baseURL: BASE,
    stream: true,
    reply: {
      body: sse(
        [
          { choices: [], created: 0, id: "", model: "", object: "", prompt_filter_results: [{ prompt_index: 0, content_filter_results: FILTERS }] },
          { choices: [{ content_filter_results: {}, delta: { content: "", refusal: null, role: "assistant" }, finish_reason: null, index: 0, logprobs: null }], created: 1763208000, id: "chatcmpl-azure-corpus-s", model: "gpt-4o-mini-2024-07-18", obfuscation: "Q2", object: "chat.completion.chunk", system_fingerprint: "fp_efad92c60b", usage: null },
          { choices: [{ content_filter_results: FILTERS, delta: { content: "Hello!" }, finish_reason: null, index: 0, logprobs: null }], created: 1763208000, id: "chatcmpl-azure-corpus-s", model: "gpt-4o-mini-2024-07-18", obfuscation: "r", object: "chat.completion.chunk", system_fingerprint: "fp_efad92c60b", usage: null },
          { choices: [{ content_filter_results: {}, delta: {}, finish_reason: "stop", index: 0, logprobs: null }], created: 1763208000, id: "chatcmpl-azure-corpus-s", model: "gpt-4o-mini-2024-07-18", obfuscation: "Zk", object: "chat.completion.chunk", system_fingerprint: "fp_efad92c60b", usage: null },
          {
            choices: [],
            created: 1763208000,
            id: "chatcmpl-azure-corpus-s",
            model: "gpt-4o-mini-2024-07-18",
            obfuscation: "x",
            object: "chat.completion.chunk",
            system_fingerprint: "fp_efad92c60b",
            usage: {
              completion_tokens: 200,
              completion_tokens_details: { accepted_prediction_tokens: 0, audio_tokens: 0, reasoning_tokens: 0, rejected_prediction_tokens: 0 },
              prompt_tokens: 800,
              prompt_tokens_details: { audio_tokens: 0, cached_tokens: 0 },
              total_tokens: 1000,
            },
          },
        ],
        { done: true },
      ),
    },
    expected: { nanoUsd: 240_000, details: { input: 120_000, output: 120_000 }, provider: "azure" },
    worked: ["input 800 × $0.15/M = 120,000 n$", "output 200 × $0.60/M = 120,000 n$", "total 120,000 + 120,000 = 240,000 n$"].join("\n"),
    price: PRICE,
  },
];
