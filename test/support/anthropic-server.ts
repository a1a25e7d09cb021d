/**
 * A loopback fake of Anthropic's Messages API (`POST /v1/messages`), JSON and SSE, so ChatAnthropic and the
 * real `@anthropic-ai/sdk` run unchanged (point them here with `anthropicApiUrl`).
 *
 * Usage is on the wire as Anthropic sends it: `input_tokens` WITHOUT cache reads and writes,
 * `cache_read_input_tokens`, `cache_creation_input_tokens` and its 5-minute / 1-hour split under
 * `cache_creation`. Streamed, input and cache counts come on `message_start` (with `output_tokens: 1`, as
 * the real API sends) and the cumulative output count on `message_delta`.
 */
import { createServer } from "node:http";
import { listenOnLoopback, readBody, replyScript, sendJson } from "./loopback.js";

export interface AnthropicUsageScript {
  /** Input tokens that were neither read from nor written to the cache. */
  input?: number;
  output?: number;
  cacheRead?: number;
  cacheWrite5m?: number;
  cacheWrite1h?: number;
}

export interface AnthropicReply {
  /** Text answer; default "Hello from the fake Anthropic." (none when only tool calls are scripted). */
  content?: string;
  toolCalls?: Array<{ name: string; input: Record<string, unknown>; id?: string }>;
  /** Served model; default: the requested one with a date suffix ("-20250929"). */
  model?: string;
  /** null: no usage on the wire. Default { input: 10, output: 5 }. */
  usage?: AnthropicUsageScript | null;
  /** A cost on `message_delta`'s usage (what an Anthropic-compatible gateway may add). */
  cost?: number;
  /** Error status, answered with Anthropic's error body. */
  status?: number;
  /** Characters per streamed text delta; default 4. */
  chunkSize?: number;
}

export interface AnthropicRequest {
  path: string;
  body: any; // parsed request body, loose for terse assertions
  headers: Record<string, string | string[] | undefined>;
  stream: boolean;
}

export interface FakeAnthropic {
  url: string;
  requests: AnthropicRequest[];
  script(...replies: AnthropicReply[]): void;
  setDefault(reply: AnthropicReply): void;
  reset(): void;
  close(): Promise<void>;
}

const DEFAULT_TEXT = "Hello from the fake Anthropic.";

export async function startFakeAnthropic(): Promise<FakeAnthropic> {
  const replies = replyScript<AnthropicReply>();
  const requests: AnthropicRequest[] = [];
  let seq = 0;

  const server = createServer(async (req, res) => {
    const body = JSON.parse((await readBody(req)) || "{}");
    const stream = body.stream === true;
    requests.push({ path: req.url ?? "", body, headers: req.headers, stream });
    if (req.method !== "POST" || !req.url?.startsWith("/v1/messages")) return sendJson(res, 404, error("not_found_error", "Not found"));
    const reply = replies.next();
    if (reply.status) return sendJson(res, reply.status, error(reply.status === 529 ? "overloaded_error" : "api_error", `scripted ${reply.status}`));
    const message = buildMessage(reply, body, `msg_fake${String(++seq).padStart(6, "0")}`);
    if (!stream) return sendJson(res, 200, message);
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    for (const [event, data] of sseEvents(message, reply)) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    res.end();
  });
  const { url, close } = await listenOnLoopback(server);
  return {
    url,
    requests,
    script: replies.script,
    setDefault: replies.setDefault,
    reset() {
      replies.reset();
      requests.length = 0;
    },
    close,
  };
}

type Json = Record<string, any>;

function buildMessage(reply: AnthropicReply, body: Json, id: string): Json {
  const content: Json[] = [];
  const text = reply.content ?? (reply.toolCalls?.length ? undefined : DEFAULT_TEXT);
  if (text !== undefined) content.push({ type: "text", text });
  for (const [i, call] of (reply.toolCalls ?? []).entries()) {
    content.push({ type: "tool_use", id: call.id ?? `toolu_fake${id.slice(-6)}${i}`, name: call.name, input: call.input });
  }
  const u = reply.usage === undefined ? { input: 10, output: 5 } : reply.usage;
  const usage = u && {
    input_tokens: u.input ?? 0,
    cache_creation_input_tokens: (u.cacheWrite5m ?? 0) + (u.cacheWrite1h ?? 0),
    cache_read_input_tokens: u.cacheRead ?? 0,
    cache_creation: { ephemeral_5m_input_tokens: u.cacheWrite5m ?? 0, ephemeral_1h_input_tokens: u.cacheWrite1h ?? 0 },
    output_tokens: u.output ?? 0,
    service_tier: "standard",
  };
  return {
    id,
    type: "message",
    role: "assistant",
    model: reply.model ?? `${body.model}-20250929`,
    content,
    stop_reason: reply.toolCalls?.length ? "tool_use" : "end_turn",
    stop_sequence: null,
    ...(usage ? { usage } : {}),
  };
}

function* sseEvents(message: Json, reply: AnthropicReply): Generator<[string, Json]> {
  const { content, usage, stop_reason, ...rest } = message;
  // Without usage, zero counts (the SDK and LangChain expect a usage object on message_start).
  const startUsage = usage ? { ...usage, output_tokens: 1 } : { input_tokens: 0, output_tokens: 0 };
  yield ["message_start", { type: "message_start", message: { ...rest, content: [], stop_reason: null, usage: startUsage } }];
  yield ["ping", { type: "ping" }];
  const size = reply.chunkSize ?? 4;
  for (const [index, block] of (content as Json[]).entries()) {
    if (block.type === "text") {
      yield ["content_block_start", { type: "content_block_start", index, content_block: { type: "text", text: "" } }];
      for (let i = 0; i < block.text.length; i += size) {
        yield ["content_block_delta", { type: "content_block_delta", index, delta: { type: "text_delta", text: block.text.slice(i, i + size) } }];
      }
    } else {
      yield ["content_block_start", { type: "content_block_start", index, content_block: { ...block, input: {} } }];
      const args = JSON.stringify(block.input);
      for (let i = 0; i < args.length; i += size) {
        yield ["content_block_delta", { type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: args.slice(i, i + size) } }];
      }
    }
    yield ["content_block_stop", { type: "content_block_stop", index }];
  }
  const deltaUsage = usage ? { output_tokens: usage.output_tokens, ...(reply.cost !== undefined ? { cost: reply.cost } : {}) } : undefined;
  yield ["message_delta", { type: "message_delta", delta: { stop_reason, stop_sequence: null }, ...(deltaUsage ? { usage: deltaUsage } : { usage: { output_tokens: 0 } }) }];
  yield ["message_stop", { type: "message_stop" }];
}

function error(type: string, message: string): Json {
  return { type: "error", error: { type, message } };
}


