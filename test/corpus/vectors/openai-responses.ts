/**
 * OpenAI Responses API (https://platform.openai.com/docs/api-reference/responses/object and
 * .../responses-streaming): `usage.input_tokens` includes `input_tokens_details.cached_tokens`;
 * `usage.output_tokens` includes `output_tokens_details.reasoning_tokens`. A stream is semantic events,
 * `event: <type>` + `data: {"type": <type>, "sequence_number": n, ...}`, ending with `response.completed`
 * (which carries the whole response, usage included); there is no `[DONE]`.
 */
import { sse } from "../replay-server.js";
import type { Vector } from "../vector.js";

const CREATED_AT = 1763208000; // 2025-11-15T12:00:00Z

/** A Response object as `GET /v1/responses/{id}` documents it. */
function response(model: string, status: "in_progress" | "completed", output: unknown[], usage: unknown, extra: Record<string, unknown> = {}) {
  return {
    id: "resp_corpus",
    object: "response",
    created_at: CREATED_AT,
    ...extra,
    status,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: null,
    max_output_tokens: null,
    max_tool_calls: null,
    model,
    output,
    parallel_tool_calls: true,
    previous_response_id: null,
    prompt_cache_key: null,
    reasoning: { effort: null, summary: null },
    safety_identifier: null,
    service_tier: "default",
    store: true,
    temperature: 1.0,
    text: { format: { type: "text" }, verbosity: "medium" },
    tool_choice: "auto",
    tools: [],
    top_logprobs: 0,
    top_p: 1.0,
    truncation: "disabled",
    usage,
    user: null,
    metadata: {},
    ...extra,
  };
}

const message = (text: string, status: "in_progress" | "completed" = "completed") => ({
  id: "msg_corpus",
  type: "message",
  status,
  content: status === "completed" ? [{ type: "output_text", annotations: [], logprobs: [], text }] : [],
  role: "assistant",
});
const reasoningItem = { id: "rs_corpus", type: "reasoning", summary: [] };

/** The documented event sequence for one text message, optionally after a reasoning item. */
function streamed(model: string, text: string, usage: unknown, { reasoning = false } = {}) {
  let n = 0;
  const seq = () => n++;
  const reasoningEffort = reasoning ? { reasoning: { effort: "medium", summary: null } } : {};
  const msgIndex = reasoning ? 1 : 0;
  const finalOutput = reasoning ? [reasoningItem, message(text)] : [message(text)];
  const events: Array<readonly [string, unknown]> = [
    ["response.created", { type: "response.created", sequence_number: seq(), response: response(model, "in_progress", [], null, reasoningEffort) }],
    ["response.in_progress", { type: "response.in_progress", sequence_number: seq(), response: response(model, "in_progress", [], null, reasoningEffort) }],
  ];
  if (reasoning) {
    events.push(
      ["response.output_item.added", { type: "response.output_item.added", sequence_number: seq(), output_index: 0, item: reasoningItem }],
      ["response.output_item.done", { type: "response.output_item.done", sequence_number: seq(), output_index: 0, item: reasoningItem }],
    );
  }
  events.push(
    ["response.output_item.added", { type: "response.output_item.added", sequence_number: seq(), output_index: msgIndex, item: message(text, "in_progress") }],
    ["response.content_part.added", { type: "response.content_part.added", sequence_number: seq(), item_id: "msg_corpus", output_index: msgIndex, content_index: 0, part: { type: "output_text", annotations: [], logprobs: [], text: "" } }],
    ["response.output_text.delta", { type: "response.output_text.delta", sequence_number: seq(), item_id: "msg_corpus", output_index: msgIndex, content_index: 0, delta: text, logprobs: [], obfuscation: "x1y2" }],
    ["response.output_text.done", { type: "response.output_text.done", sequence_number: seq(), item_id: "msg_corpus", output_index: msgIndex, content_index: 0, text, logprobs: [] }],
    ["response.content_part.done", { type: "response.content_part.done", sequence_number: seq(), item_id: "msg_corpus", output_index: msgIndex, content_index: 0, part: { type: "output_text", annotations: [], logprobs: [], text } }],
    ["response.output_item.done", { type: "response.output_item.done", sequence_number: seq(), output_index: msgIndex, item: message(text) }],
    ["response.completed", { type: "response.completed", sequence_number: seq(), response: response(model, "completed", finalOutput, usage, reasoningEffort) }],
  );
  return sse(events);
}

export const vectors: Vector[] = [
  {
    name: "openai responses: gpt-5-mini, JSON, cached input and reasoning output",
    client: "openai-responses",
    model: "gpt-5-mini",
    stream: false,
    reply: {
      body: JSON.stringify(
        response(
          "gpt-5-mini-2025-08-07",
          "completed",
          [reasoningItem, message("Hello!")],
          { input_tokens: 5000, input_tokens_details: { cached_tokens: 4096 }, output_tokens: 900, output_tokens_details: { reasoning_tokens: 768 }, total_tokens: 5900 },
          { reasoning: { effort: "medium", summary: null } },
        ),
      ),
    },
    expected: {
      nanoUsd: 2_128_400,
      details: { input: 226_000, input_cache_read: 102_400, output: 264_000, output_reasoning: 1_536_000 },
      model: "gpt-5-mini-2025-08-07",
      provider: "openai",
    },
    worked: [
      "input_tokens 5,000, cached 4,096 → uncached 904",
      "uncached 904 × $0.25/M = 226,000 n$",
      "cached 4,096 × $0.025/M = 102,400 n$",
      "output_tokens 900, reasoning 768 → visible 132",
      "visible 132 × $2.00/M = 264,000 n$",
      "reasoning 768 × $2.00/M = 1,536,000 n$",
      "total 226,000 + 102,400 + 264,000 + 1,536,000 = 2,128,400 n$",
    ].join("\n"),
    price: "https://platform.openai.com/docs/pricing (as of 2025-11-15): gpt-5-mini $0.25 in / $0.025 cached / $2.00 out per 1M; genai-prices 0.1.8 agrees",
  },
  {
    name: "openai responses: gpt-4o-mini, SSE, response.created … output_text.delta … response.completed with cached usage",
    client: "openai-responses",
    model: "gpt-4o-mini",
    stream: true,
    reply: {
      body: streamed("gpt-4o-mini-2024-07-18", "Hello!", {
        input_tokens: 1500,
        input_tokens_details: { cached_tokens: 1024 },
        output_tokens: 350,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: 1850,
      }),
    },
    expected: { nanoUsd: 358_200, details: { input: 71_400, input_cache_read: 76_800, output: 210_000 }, model: "gpt-4o-mini-2024-07-18", provider: "openai" },
    worked: [
      "input_tokens 1,500, cached 1,024 → uncached 476",
      "uncached 476 × $0.15/M = 71,400 n$",
      "cached 1,024 × $0.075/M = 76,800 n$",
      "output 350 × $0.60/M = 210,000 n$",
      "total 71,400 + 76,800 + 210,000 = 358,200 n$",
    ].join("\n"),
    price: "https://platform.openai.com/docs/pricing (as of 2025-11-15): gpt-4o-mini $0.15 / $0.075 cached / $0.60 per 1M; genai-prices 0.1.8 agrees",
  },
  {
    name: "openai responses: o4-mini, SSE, a reasoning item then the message; reasoning in output_tokens_details",
    client: "openai-responses",
    model: "o4-mini",
    stream: true,
    reply: {
      body: streamed(
        "o4-mini-2025-04-16",
        "Hello!",
        { input_tokens: 800, input_tokens_details: { cached_tokens: 0 }, output_tokens: 1200, output_tokens_details: { reasoning_tokens: 1024 }, total_tokens: 2000 },
        { reasoning: true },
      ),
    },
    expected: { nanoUsd: 6_160_000, details: { input: 880_000, output: 774_400, output_reasoning: 4_505_600 }, model: "o4-mini-2025-04-16", provider: "openai" },
    worked: [
      "input 800 (none cached) × $1.10/M = 880,000 n$",
      "output_tokens 1,200, reasoning 1,024 → visible 176",
      "visible 176 × $4.40/M = 774,400 n$",
      "reasoning 1,024 × $4.40/M = 4,505,600 n$",
      "total 880,000 + 774,400 + 4,505,600 = 6,160,000 n$",
    ].join("\n"),
    price: "https://platform.openai.com/docs/pricing (as of 2025-11-15): o4-mini $1.10 in / $0.275 cached / $4.40 out per 1M; genai-prices 0.1.8 agrees",
  },
  ...[false, true].map(
    (stream): Vector => ({
      name: `openai responses: o3, ${stream ? "SSE" : "JSON"}, created 2025-06-01 (before the 2025-06-10 price cut), priced in November: the response's created_at decides`,
      client: "openai-responses",
      model: "o3",
      stream,
      at: "2025-11-15T12:00:00Z",
      reply: {
        body: (() => {
          const usage = { input_tokens: 1000, input_tokens_details: { cached_tokens: 0 }, output_tokens: 500, output_tokens_details: { reasoning_tokens: 300 }, total_tokens: 1500 };
          const created = { created_at: 1748779200 }; // 2025-06-01T12:00:00Z
          return stream
            ? streamed("o3-2025-04-16", "Hello!", usage, { reasoning: true }).replaceAll(`"created_at":${CREATED_AT}`, `"created_at":${created.created_at}`)
            : JSON.stringify(response("o3-2025-04-16", "completed", [reasoningItem, message("Hello!")], usage, created));
        })(),
      },
      expected: { nanoUsd: 30_000_000, details: { input: 10_000_000, output: 8_000_000, output_reasoning: 12_000_000 }, model: "o3-2025-04-16", provider: "openai" },
      worked: [
        "created_at 1748779200 = 2025-06-01T12:00:00Z: o3's price before the cut, $10 in / $40 out per 1M",
        "input 1,000 × $10/M = 10,000,000 n$",
        "output_tokens 500, reasoning 300 → visible 200 × $40/M = 8,000,000 n$; reasoning 300 × $40/M = 12,000,000 n$",
        "total 30,000,000 n$ (at the clock's November price, $2 / $8: 6,000,000 n$, 80% under)",
      ].join("\n"),
      price:
        "OpenAI cut o3's price 80% on 2025-06-10 ($10 / $40 → $2 / $8 per 1M; OpenAI's pricing page and the o3 model page); " +
        "genai-prices 0.1.8 has both prices, the cut as a start_date constraint",
      covers: "response-time-price",
    }),
  ),
];
