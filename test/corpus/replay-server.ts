/**
 * A loopback server that answers every request with the next recorded-shape reply, byte for byte: a JSON
 * body or a server-sent-events stream exactly as the provider's API reference shows it. The real SDKs
 * (openai, @anthropic-ai/sdk, @google/generative-ai) parse it, and LangChain's provider packages read it,
 * so the corpus runs the same code paths as a live call.
 */
import { createServer } from "node:http";
import { listenOnLoopback, readBody } from "../support/loopback.js";

/** One recorded-shape HTTP reply. */
export interface ReplayedReply {
  /** Default 200. */
  status?: number;
  /** Default: `text/event-stream` when `body` starts with `event:` or `data:`, else `application/json`. */
  headers?: Record<string, string>;
  /** The body as sent on the wire (SSE events separated by blank lines). */
  body: string;
}

export interface ReplayServer {
  url: string;
  /** Request paths and parsed bodies, in order. */
  requests: Array<{ path: string; body: any }>;
  /** Replies for the next requests, in order. */
  queue(...replies: ReplayedReply[]): void;
  /** Forgets queued replies and recorded requests. */
  reset(): void;
  close(): Promise<void>;
}

export async function startReplayServer(): Promise<ReplayServer> {
  const replies: ReplayedReply[] = [];
  const requests: ReplayServer["requests"] = [];
  const server = createServer(async (req, res) => {
    const text = await readBody(req);
    requests.push({ path: req.url ?? "", body: text ? JSON.parse(text) : undefined });
    const reply = replies.shift();
    if (!reply) {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "replay server: no reply queued" } }));
      return;
    }
    const sse = /^(event|data):/.test(reply.body.trimStart());
    res.writeHead(reply.status ?? 200, { "content-type": sse ? "text/event-stream" : "application/json", ...reply.headers });
    res.end(reply.body);
  });
  const { url, close } = await listenOnLoopback(server);
  const reset = () => {
    replies.length = 0;
    requests.length = 0;
  };
  return { url, requests, queue: (...more) => void replies.push(...more), reset, close };
}

/** SSE text from events: `[name, data]` pairs (Anthropic, Responses API) or bare data (Chat Completions, Gemini). */
export function sse(events: ReadonlyArray<readonly [string, unknown] | unknown>, { done = false } = {}): string {
  const lines = events.map((event) =>
    Array.isArray(event) && event.length === 2 && typeof event[0] === "string"
      ? `event: ${event[0]}\ndata: ${JSON.stringify(event[1])}\n\n`
      : `data: ${JSON.stringify(event)}\n\n`,
  );
  return lines.join("") + (done ? "data: [DONE]\n\n" : "");
}
