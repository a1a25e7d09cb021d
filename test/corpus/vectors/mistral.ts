/**
 * Mistral (https://docs.mistral.ai/api/#tag/chat/operation/chat_completion_v1_chat_completions_post):
 * `usage` = { prompt_tokens, completion_tokens, total_tokens }; `model` echoes the requested name. Streamed,
 * the usage rides on the last chunk together with its `finish_reason` (no separate choices:[] chunk).
 */
import { sse } from "../replay-server.js";
import type { Vector } from "../vector.js";

const BASE = "https://api.mistral.ai/v1";
const chunk = (choice: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  id: "cmpl-e5cc70bb28c444948073e77776eb30ef",
  object: "chat.completion.chunk",
  created: 1763208000,
  model: "mistral-small-latest",
  choices: [{ index: 0, finish_reason: null, ...choice }],
  ...extra,
});

export const vectors: Vector[] = [
  {
    name: "mistral: mistral-small-latest, JSON",
    client: "openai-chat",
    model: "mistral-small-latest",
    baseURL: BASE,
    stream: false,
    reply: {
      body: JSON.stringify({
        id: "cmpl-e5cc70bb28c444948073e77776eb30ef",
        object: "chat.completion",
        model: "mistral-small-latest",
        usage: { prompt_tokens: 1200, completion_tokens: 300, total_tokens: 1500 },
        created: 1763208000,
        choices: [{ index: 0, message: { role: "assistant", content: "Hello!", tool_calls: null, prefix: false }, finish_reason: "stop" }],
      }),
    },
    expected: { nanoUsd: 210_000, details: { input: 120_000, output: 90_000 }, model: "mistral-small-latest", provider: "mistral" },
    worked: ["input 1,200 × $0.10/M = 120,000 n$", "output 300 × $0.30/M = 90,000 n$", "total 120,000 + 90,000 = 210,000 n$"].join("\n"),
    price: "https://mistral.ai/pricing (as of 2025-11-15; mistral-small-latest = Mistral Small 3.2, mistral-small-2506): $0.10 in / $0.30 out per 1M; genai-prices 0.1.8 mistral/mistral-small-latest 0.1 / 0.3 — agrees",
  },
  {
    name: "mistral: mistral-small-latest, SSE, usage on the finish_reason chunk",
    client: "openai-chat",
    model: "mistral-small-latest",
    baseURL: BASE,
    stream: true,
    reply: {
      body: sse(
        [
          chunk({ delta: { role: "assistant", content: "" } }),
          chunk({ delta: { content: "Hello" } }),
          chunk({ delta: { content: "!" } }),
          chunk({ delta: { content: "" }, finish_reason: "stop" }, { usage: { prompt_tokens: 3000, total_tokens: 3800, completion_tokens: 800 } }),
        ],
        { done: true },
      ),
    },
    expected: { nanoUsd: 540_000, details: { input: 300_000, output: 240_000 } },
    worked: ["input 3,000 × $0.10/M = 300,000 n$", "output 800 × $0.30/M = 240,000 n$", "total 300,000 + 240,000 = 540,000 n$"].join("\n"),
    price: "https://mistral.ai/pricing (as of 2025-11-15): Mistral Small 3.2 $0.10 / $0.30 per 1M; genai-prices 0.1.8 agrees",
  },
];
