/**
 * A loopback fake of the Gemini API (`POST /v1beta/models/<model>:generateContent` and
 * `:streamGenerateContent?alt=sse`), so ChatGoogleGenerativeAI and the real `@google/generative-ai` SDK run
 * unchanged (point them here with `baseUrl`).
 *
 * `usageMetadata` is on the wire as Gemini sends it: `promptTokenCount` includes `cachedContentTokenCount`;
 * `candidatesTokenCount` excludes `thoughtsTokenCount`; `totalTokenCount` is prompt + candidates +
 * thoughts + `toolUsePromptTokenCount`. Streamed, every chunk carries usageMetadata: the prompt and cache
 * counts on each one, candidates and total cumulative so far, thoughts from the first chunk on.
 */
import { createServer } from "node:http";
import { listenOnLoopback, readBody, replyScript, sendJson } from "./loopback.js";

export interface GeminiUsageScript {
  /** promptTokenCount (cached tokens included). */
  prompt?: number;
  candidates?: number;
  cached?: number;
  thoughts?: number;
  toolUsePrompt?: number;
}

export interface GeminiReply {
  /** Text answer; default "Hello from the fake Gemini." (none when only function calls are scripted). */
  content?: string;
  functionCalls?: Array<{ name: string; args: Record<string, unknown> }>;
  /** null: no usageMetadata. Default { prompt: 10, candidates: 5 }. */
  usage?: GeminiUsageScript | null;
  status?: number;
  /** Characters per streamed chunk; default 8. */
  chunkSize?: number;
}

export interface GeminiRequest {
  path: string;
  model: string;
  body: any; // parsed request body, loose for terse assertions
  stream: boolean;
}

export interface FakeGemini {
  url: string;
  requests: GeminiRequest[];
  script(...replies: GeminiReply[]): void;
  setDefault(reply: GeminiReply): void;
  reset(): void;
  close(): Promise<void>;
}

const DEFAULT_TEXT = "Hello from the fake Gemini.";
const ROUTE = /^\/v1beta\/models\/([^:]+):(generateContent|streamGenerateContent)/;

export async function startFakeGemini(): Promise<FakeGemini> {
  const replies = replyScript<GeminiReply>();
  const requests: GeminiRequest[] = [];

  const server = createServer(async (req, res) => {
    const body = JSON.parse((await readBody(req)) || "{}");
    const route = ROUTE.exec(req.url ?? "");
    if (req.method !== "POST" || !route) return sendJson(res, 404, { error: { code: 404, message: "Not found", status: "NOT_FOUND" } });
    const stream = route[2] === "streamGenerateContent";
    requests.push({ path: req.url ?? "", model: decodeURIComponent(route[1] ?? ""), body, stream });
    const reply = replies.next();
    if (reply.status) return sendJson(res, reply.status, { error: { code: reply.status, message: `scripted ${reply.status}`, status: "UNAVAILABLE" } });
    const parts = replyParts(reply);
    const usage = reply.usage === undefined ? { prompt: 10, candidates: 5 } : reply.usage;
    if (!stream) return sendJson(res, 200, response(parts, usage && usageMetadata(usage, usage.candidates ?? 0, true), "STOP"));
    res.writeHead(200, { "content-type": "text/event-stream" });
    const pieces = splitParts(parts, reply.chunkSize ?? 8);
    let emitted = 0;
    for (const [i, piece] of pieces.entries()) {
      const last = i === pieces.length - 1;
      // Spread candidate tokens over the chunks, cumulative; the last chunk has the final count.
      emitted = last ? (usage?.candidates ?? 0) : Math.min(usage?.candidates ?? 0, emitted + 1);
      const meta = usage && usageMetadata(usage, emitted, last);
      res.write(`data: ${JSON.stringify(response(piece, meta, last ? "STOP" : undefined))}\r\n\r\n`);
    }
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

function replyParts(reply: GeminiReply): Json[] {
  const parts: Json[] = [];
  const text = reply.content ?? (reply.functionCalls?.length ? undefined : DEFAULT_TEXT);
  if (text !== undefined) parts.push({ text });
  for (const call of reply.functionCalls ?? []) parts.push({ functionCall: { name: call.name, args: call.args } });
  return parts;
}

/** Text parts cut into pieces of `size` characters, one per chunk; function calls whole, in their own chunk. */
function splitParts(parts: Json[], size: number): Json[][] {
  const pieces: Json[][] = [];
  for (const part of parts) {
    if (typeof part.text !== "string") {
      pieces.push([part]);
      continue;
    }
    for (let i = 0; i < part.text.length; i += size) pieces.push([{ text: part.text.slice(i, i + size) }]);
  }
  return pieces.length ? pieces : [[{ text: "" }]];
}

function usageMetadata(usage: GeminiUsageScript, candidates: number, final: boolean): Json {
  const prompt = usage.prompt ?? 0;
  const thoughts = usage.thoughts ?? 0;
  const toolUse = final ? (usage.toolUsePrompt ?? 0) : 0;
  return {
    promptTokenCount: prompt,
    candidatesTokenCount: candidates,
    totalTokenCount: prompt + candidates + thoughts + toolUse,
    ...(usage.cached ? { cachedContentTokenCount: usage.cached } : {}),
    ...(thoughts ? { thoughtsTokenCount: thoughts } : {}),
    ...(toolUse ? { toolUsePromptTokenCount: toolUse } : {}),
  };
}

function response(parts: Json[], usage: Json | null | undefined, finishReason: string | undefined): Json {
  return {
    candidates: [{ content: { parts, role: "model" }, index: 0, ...(finishReason ? { finishReason } : {}) }],
    ...(usage ? { usageMetadata: usage } : {}),
    modelVersion: "fake",
  };
}


