/**
 * A loopback fake of the OpenAI HTTP API (Chat Completions + Responses).
 *
 * Why a real HTTP server instead of mocking `fetch` or the SDK: the whole point
 * of `langchain-metered` is to read usage that has travelled through the real
 * `openai` SDK and `@langchain/openai` converters. Only a server that speaks the
 * wire format (JSON bodies, SSE framing, status codes, headers) exercises those
 * layers exactly as production does, so tests, benchmarks and the demo all point
 * `ChatOpenAI` at this server via `configuration.baseURL`.
 *
 * Replies are scripted per request (FIFO queue, then a default). Everything is
 * deterministic: ids come from a per-server counter and default usage follows
 * `estimateTokens`, so tests can predict exact token counts.
 *
 * Fault injection (`ScriptedReply.fault`, `rawUsage`) makes the fake misbehave the
 * way real providers and proxies do, and `FakeOpenAI.bill` keeps what the provider
 * would have charged for each request regardless of what the client got to see,
 * so tests can check that no paid call is ever metered at $0. See `BillEntry` for
 * the billing rules.
 */
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface ScriptedUsage {
  promptTokens?: number;
  completionTokens?: number;
  cachedTokens?: number;
  cacheWriteTokens?: number;
  reasoningTokens?: number;
  inputAudioTokens?: number;
  outputAudioTokens?: number;
}

export interface ToolCallScript {
  name: string;
  arguments: string | Record<string, unknown>;
  id?: string;
}

export interface ScriptedReply {
  /** Assistant text; default "Hello from the fake server." (none when only toolCalls are scripted). */
  content?: string;
  /** Tool/function calls instead of (or with) text. */
  toolCalls?: ToolCallScript[];
  /** Served model name in the response; default: the request's model. */
  model?: string;
  /** null = omit usage entirely (a proxy that drops it); undefined = derived via estimateTokens. */
  usage?: ScriptedUsage | null;
  /** Error status (429, 500, 400…) answered with an OpenAI-style JSON error body. */
  status?: number;
  /** Delay before each SSE chunk; for non-streaming replies, one delay before the body. Default 0. */
  chunkDelayMs?: number;
  /** Characters per SSE text/arguments delta; default 4. */
  chunkSize?: number;
  /** Extra response headers (e.g. x-litellm-response-cost). */
  headers?: Record<string, string>;
  /** Merged into the raw usage object (e.g. OpenRouter's { cost: 0.0012 }). */
  extraUsage?: Record<string, unknown>;
  /**
   * Sent verbatim as the response's `usage` (JSON body, the final Chat Completions
   * usage chunk, the Responses API's `response.completed`) instead of the derived
   * one: strings, negative/fractional/absurd counts, `null`… `extraUsage` is not
   * merged in, and `usage: null` does not suppress it. With Chat Completions
   * streaming it is only sent when the request asks for `include_usage`, like real
   * usage. The bill ignores it: it charges what the derived usage says.
   */
  rawUsage?: unknown;
  /** Misbehave on purpose; see `Fault`. Ignored when `status` >= 400 (the error reply wins). */
  fault?: Fault;
  /**
   * SSE events written before a streaming `reset-mid-stream` / `malformed-sse` /
   * `hang` fault strikes. Default 2. Events are counted as written on the wire:
   * for Chat Completions the role chunk is event 1 (so the default 2 = role chunk +
   * first content delta); for the Responses API `response.created` and
   * `response.in_progress` are events 1 and 2 (no text yet).
   * For `hang`, only an explicit value makes a stream stall after K events; without
   * it a hanging request gets no response at all (not even headers).
   */
  faultAfterChunks?: number;
}

/**
 * What the fake does instead of a well-formed answer.
 *
 * - `reset-mid-stream`: streaming: headers + the first K SSE events (`faultAfterChunks`),
 *   then the TCP connection is closed without the terminating chunk (and without
 *   `[DONE]`). Non-streaming: headers (with the full `content-length`) and the first
 *   half of the JSON body, then the connection is closed.
 * - `malformed-sse`: streaming: K good events, then a `data:` line that is not JSON
 *   (`data: {"choices": [`), then the response ends normally (no `[DONE]`).
 *   Non-streaming: a 200 JSON response whose body is the first half of the JSON.
 * - `html-200`: status 200, `content-type: text/html`, a proxy's HTML error page
 *   (streaming or not).
 * - `empty-200`: status 200, `content-type: application/json`, empty body (streaming or not).
 * - `empty-object-200`: status 200 with body `{}`; streaming: an SSE stream whose only
 *   event is `data: [DONE]`.
 * - `hang`: accept the request and never answer, until the client goes away or the
 *   server closes. Streaming with an explicit `faultAfterChunks`: headers and K
 *   events, then silence.
 *
 * `chunkDelayMs` still applies (before each event, or once before the body).
 */
export type Fault = "reset-mid-stream" | "malformed-sse" | "html-200" | "empty-200" | "empty-object-200" | "hang";

/**
 * What a real provider would bill for one request. Exactly one entry per recorded
 * request, pushed when the exchange is over — before the client can see the end
 * of a completed answer, but only once the fake notices for an abort, a fault or a
 * hang (`await server.settled()` waits for those). Rules:
 *
 * - Error status (`status` >= 400, incl. a throwing ReplyFn's 500): an entry with
 *   zero tokens and that `status`, `complete: true`. `billedRequests()` / `billTotals()`
 *   leave them out.
 * - Complete 200 answer (JSON, or a stream written in full): the derived usage —
 *   scripted counts, else `estimateTokens` — even when the client was shown something
 *   else (`rawUsage`, `usage: null`, `extraUsage`, no `include_usage`). `complete: true`.
 * - Stream cut short (client abort, `reset-mid-stream`, `malformed-sse`, a stalled
 *   `hang`): the full input (`inputTokens`, `cachedTokens`), all reasoning tokens (spent
 *   before the first event, so billed as soon as the 200 status line went out), plus
 *   the visible output in proportion to the characters of content / tool-argument
 *   deltas actually written: `ceil((completion - reasoning) * writtenChars / totalChars)`,
 *   with `totalChars` all content + argument characters of the full answer (× n) and
 *   reasoning clamped to completion. `outputTokens` includes `reasoningTokens`, as
 *   OpenAI's `completion_tokens` does. `complete: false`.
 * - Non-streaming `reset-mid-stream` / `malformed-sse`, and `html-200` / `empty-200` /
 *   `empty-object-200` (streaming or not): the whole answer was generated (and paid
 *   for) before the response was mangled: the full derived usage, `complete: false`.
 * - Client gone before any status line was sent (a `hang`, or an abort during a
 *   non-streaming `chunkDelayMs`): the input only, `status: 0`, `complete: false`.
 */
export interface BillEntry {
  /** Index into `requests` (as of when the request arrived). */
  requestIndex: number;
  /** Served model (the request's model, or the scripted one). */
  model: string;
  inputTokens: number;
  /** Includes `reasoningTokens`. */
  outputTokens: number;
  cachedTokens: number;
  reasoningTokens: number;
  /** HTTP status sent; 0 when no status line was sent. */
  status: number;
  /** True when the client could have received the whole, well-formed answer (or error). */
  complete: boolean;
  fault: Fault | null;
  /** SSE events written (streaming only; 0 otherwise, excluding `[DONE]` and a malformed line). */
  writtenEvents: number;
  /** Characters of content / tool-argument deltas written (streaming only). */
  writtenChars: number;
}

export interface BillTotals {
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
  reasoningTokens: number;
  /** Billed requests: entries whose status is not an error (status < 400). */
  requests: number;
}

export type ReplyFn = (req: RecordedRequest) => ScriptedReply | Promise<ScriptedReply>;

export interface RecordedRequest {
  path: string;
  api: "chat" | "responses";
  body: any; // parsed JSON request body, deliberately loose for terse test assertions
  headers: Record<string, string | string[] | undefined>;
  stream: boolean;
  /** True if the client disconnected before the response finished. */
  aborted: boolean;
}

export interface FakeOpenAI {
  url: string;
  requests: RecordedRequest[];
  /** The provider's own bill, one entry per settled request (see `BillEntry`). Cleared by `reset()`. */
  bill: BillEntry[];
  /** Bill entries that cost something: errors (status >= 400) left out. */
  billedRequests(): BillEntry[];
  /** Sum of `billedRequests()`. */
  billTotals(): BillTotals;
  /** Resolves once every request recorded so far has its bill entry (a `hang` only settles when its client goes away). */
  settled(): Promise<void>;
  script(...replies: (ScriptedReply | ReplyFn)[]): void;
  setDefault(reply: ScriptedReply | ReplyFn): void;
  reset(): void;
  close(): Promise<void>;
}

const DEFAULT_CONTENT = "Hello from the fake server.";

/** ~4 characters per token: crude, but deterministic and trivially predictable in tests. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

type Json = Record<string, unknown>;

/** Tool call with id and string arguments resolved, shared by both APIs. */
interface ResolvedToolCall {
  id: string;
  name: string;
  arguments: string;
}

/** Everything both API renderers need, computed once per request. */
interface Plan {
  model: string;
  content: string | null;
  toolCalls: ResolvedToolCall[];
  n: number;
  usage: Required<ScriptedUsage> | null;
  /** What the provider really used (= usage, also when usage is null or rawUsage is set): the bill. */
  billUsage: Required<ScriptedUsage>;
  /** reply.rawUsage !== undefined. */
  hasRawUsage: boolean;
  rawUsage: unknown;
  /** Content + tool-argument characters of the whole answer (all n choices). */
  totalChars: number;
  /** Only put cache_write_tokens on the wire when scripted: real OpenAI omits it. */
  hasCacheWrite: boolean;
  extraUsage: Record<string, unknown>;
  chunkDelayMs: number;
  chunkSize: number;
}

/** One recorded request on its way to a bill entry. */
interface Exchange {
  record: RecordedRequest;
  requestIndex: number;
  epoch: number;
  /** Request's model, for error entries. */
  model: string;
  done: Promise<void>;
  settle(entry: Omit<BillEntry, "requestIndex">): void;
  /** The fake itself cut the connection (fault), so a close is not a client abort. */
  serverCut: boolean;
}

export async function startFakeOpenAI(
  options: { port?: number; defaultReply?: ScriptedReply | ReplyFn } = {},
): Promise<FakeOpenAI> {
  const queue: (ScriptedReply | ReplyFn)[] = [];
  const requests: RecordedRequest[] = [];
  const bill: BillEntry[] = [];
  const pending = new Set<Promise<void>>();
  // Bumped by reset(): requests still in flight then settle into nothing.
  let epoch = 0;
  let defaultReply: ScriptedReply | ReplyFn | undefined = options.defaultReply;
  let seq = 0;
  const nextId = (prefix: string): string => `${prefix}_fake${String(++seq).padStart(6, "0")}`;

  // Track sockets ourselves: keep-alive connections from undici would otherwise
  // keep server.close() pending forever.
  const sockets = new Set<Socket>();

  function open(record: RecordedRequest): Exchange {
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    pending.add(done);
    let settled = false;
    const ex: Exchange = {
      record,
      requestIndex: requests.length - 1,
      epoch,
      model: typeof record.body?.model === "string" ? record.body.model : "gpt-4o-mini",
      done,
      serverCut: false,
      settle: (entry) => {
        if (settled) return;
        settled = true;
        pending.delete(done);
        resolve();
        if (ex.epoch === epoch) bill.push({ requestIndex: ex.requestIndex, ...entry });
      },
    };
    return ex;
  }

  const server = createServer((req, res) => {
    const ctx: { ex?: Exchange } = {};
    handle(req, res, ctx).catch((err: unknown) => {
      // A throwing ReplyFn is a test bug; surface it as a 500 rather than hanging.
      if (!res.headersSent && !res.destroyed) {
        sendJson(res, 500, errorBody(500, `Fake server error: ${String(err)}`));
        ctx.ex?.settle(zeroBill(ctx.ex.model, 500));
      } else {
        res.destroy();
        ctx.ex?.settle(zeroBill(ctx.ex.model, res.headersSent ? res.statusCode : 0));
      }
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse, ctx: { ex?: Exchange }): Promise<void> {
    // "close" fires both after a normal finish and when the client goes away;
    // only the latter leaves the response unfinished.
    res.on("close", () => {
      if (!res.writableFinished && ctx.ex && !ctx.ex.serverCut) ctx.ex.record.aborted = true;
    });

    const raw = await readBody(req);
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const api = req.method === "POST" ? routes[path] : undefined;
    if (!api) {
      sendJson(res, 404, errorBody(404, `Unknown path: ${req.method ?? "?"} ${path}`));
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      sendJson(res, 400, errorBody(400, "Request body is not valid JSON"));
      return;
    }
    const b = body as Json;
    const record: RecordedRequest = { path, api, body, headers: { ...req.headers }, stream: b.stream === true, aborted: res.destroyed };
    requests.push(record);
    const ex = open(record);
    ctx.ex = ex;

    const source = queue.shift() ?? defaultReply ?? {};
    const reply = typeof source === "function" ? await source(record) : source;
    const headers: Record<string, string> = { "x-request-id": nextId("req"), ...reply.headers };

    if (reply.status !== undefined && reply.status >= 400) {
      if (reply.status === 429) headers["retry-after"] = "0";
      sendJson(res, reply.status, errorBody(reply.status), headers);
      ex.settle(zeroBill(ex.model, reply.status));
      return;
    }

    const plan = buildPlan(b, api, reply, nextId);
    const fault = reply.fault ?? null;
    // Bill helpers: the whole derived usage, or what was produced before the exchange stopped.
    const full = (complete: boolean, events = 0, chars = 0): Omit<BillEntry, "requestIndex"> =>
      fullBill(plan, res.headersSent ? res.statusCode : 0, complete, fault, events, chars);
    const partial = (events: number, chars: number): Omit<BillEntry, "requestIndex"> =>
      partialBill(plan, res.headersSent ? res.statusCode : 0, fault, events, chars);
    const cut = (): void => {
      ex.serverCut = true;
      closeConnection(res);
    };

    if (fault === "hang" && !(record.stream && reply.faultAfterChunks !== undefined)) {
      await closed(res);
      ex.settle(partial(0, 0));
      return;
    }

    if (!record.stream || fault === "html-200" || fault === "empty-200" || fault === "empty-object-200") {
      await sleep(plan.chunkDelayMs, res);
      if (res.destroyed) {
        ex.settle(partial(0, 0)); // client gone before the answer: input only
        return;
      }
      if (fault === "html-200") {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8", ...headers });
        ex.settle(full(false));
        res.end(HTML_ERROR_PAGE);
        return;
      }
      if (fault === "empty-200") {
        res.writeHead(200, { "content-type": "application/json", ...headers });
        ex.settle(full(false));
        res.end();
        return;
      }
      if (fault === "empty-object-200") {
        if (record.stream) {
          res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive", ...headers });
          ex.settle(full(false));
          res.end("data: [DONE]\n\n");
        } else {
          res.writeHead(200, { "content-type": "application/json", ...headers });
          ex.settle(full(false));
          res.end("{}");
        }
        return;
      }
      const payload = api === "chat" ? chatCompletion(plan, nextId("chatcmpl")) : responseObject(plan, b, nextId);
      const text = JSON.stringify(payload);
      const half = text.slice(0, Math.floor(text.length / 2));
      if (fault === "reset-mid-stream") {
        res.writeHead(200, { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)), ...headers });
        ex.settle(full(false));
        res.write(half);
        cut();
        return;
      }
      if (fault === "malformed-sse") {
        res.writeHead(200, { "content-type": "application/json", ...headers });
        ex.settle(full(false));
        res.end(half);
        return;
      }
      res.writeHead(200, { "content-type": "application/json", ...headers });
      ex.settle(full(true));
      res.end(text);
      return;
    }

    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      connection: "keep-alive",
      ...headers,
    });
    // Flush headers now so the SDK's `await create()` resolves before the first
    // (possibly delayed) chunk, as with a real server's time-to-first-token.
    res.flushHeaders();
    const events = api === "chat" ? chatStreamEvents(plan, b, nextId("chatcmpl")) : responsesStreamEvents(plan, b, nextId);
    const stopsEarly = fault === "reset-mid-stream" || fault === "malformed-sse" || fault === "hang";
    const stopAfter = Math.max(0, Math.floor(reply.faultAfterChunks ?? 2));
    let written = 0;
    let chars = 0;
    for (const event of events) {
      if (stopsEarly && written >= stopAfter) break;
      await sleep(plan.chunkDelayMs, res);
      // Client gone (abort): stop producing; the "close" listener already set the flag.
      if (res.destroyed || !res.writable) {
        ex.settle(partial(written, chars));
        return;
      }
      res.write(event.text);
      written++;
      chars += event.chars;
    }
    if (fault === "reset-mid-stream") {
      ex.settle(partial(written, chars));
      cut();
      return;
    }
    if (fault === "malformed-sse") {
      ex.settle(partial(written, chars));
      res.end(api === "chat" ? MALFORMED_CHAT_SSE : MALFORMED_RESPONSES_SSE);
      return;
    }
    if (fault === "hang") {
      await closed(res);
      ex.settle(partial(written, chars));
      return;
    }
    ex.settle(full(true, written, chars));
    if (api === "chat" && !res.destroyed) res.write("data: [DONE]\n\n");
    res.end();
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  const billedRequests = (): BillEntry[] => bill.filter((e) => e.status < 400);
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    bill,
    billedRequests,
    billTotals: () =>
      billedRequests().reduce<BillTotals>(
        (t, e) => ({
          inputTokens: t.inputTokens + e.inputTokens,
          outputTokens: t.outputTokens + e.outputTokens,
          cachedTokens: t.cachedTokens + e.cachedTokens,
          reasoningTokens: t.reasoningTokens + e.reasoningTokens,
          requests: t.requests + 1,
        }),
        { inputTokens: 0, outputTokens: 0, cachedTokens: 0, reasoningTokens: 0, requests: 0 },
      ),
    settled: async () => void (await Promise.all([...pending])),
    script: (...replies) => void queue.push(...replies),
    setDefault: (reply) => void (defaultReply = reply),
    reset: () => {
      queue.length = 0;
      requests.length = 0;
      bill.length = 0;
      pending.clear();
      epoch++;
      defaultReply = undefined;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve()); // resolves even when already closed (callback gets an error)
        for (const socket of sockets) socket.destroy();
      }),
  };
}

const HTML_ERROR_PAGE =
  "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
const MALFORMED_CHAT_SSE = 'data: {"choices": [\n\n';
const MALFORMED_RESPONSES_SSE = 'event: response.output_text.delta\ndata: {"type": "response.output_text.delta", "delta": \n\n';

// ---------------------------------------------------------------------------
// Billing
// ---------------------------------------------------------------------------

function zeroBill(model: string, status: number): Omit<BillEntry, "requestIndex"> {
  return {
    model,
    inputTokens: 0,
    outputTokens: 0,
    cachedTokens: 0,
    reasoningTokens: 0,
    status,
    complete: true,
    fault: null,
    writtenEvents: 0,
    writtenChars: 0,
  };
}

function fullBill(plan: Plan, status: number, complete: boolean, fault: Fault | null, events: number, chars: number): Omit<BillEntry, "requestIndex"> {
  const u = plan.billUsage;
  return {
    model: plan.model,
    inputTokens: u.promptTokens,
    outputTokens: u.completionTokens,
    cachedTokens: u.cachedTokens,
    reasoningTokens: u.reasoningTokens,
    status,
    complete,
    fault,
    writtenEvents: events,
    writtenChars: chars,
  };
}

/** See BillEntry: input in full; reasoning once the status line is out; visible output pro rata of characters written. */
function partialBill(plan: Plan, status: number, fault: Fault | null, events: number, chars: number): Omit<BillEntry, "requestIndex"> {
  const u = plan.billUsage;
  const reasoning = status === 0 ? 0 : Math.min(u.reasoningTokens, u.completionTokens);
  const visible = Math.max(0, u.completionTokens - Math.min(u.reasoningTokens, u.completionTokens));
  const written = plan.totalChars > 0 ? Math.ceil((visible * Math.min(chars, plan.totalChars)) / plan.totalChars) : 0;
  return {
    model: plan.model,
    inputTokens: u.promptTokens,
    outputTokens: reasoning + written,
    cachedTokens: u.cachedTokens,
    reasoningTokens: reasoning,
    status,
    complete: false,
    fault,
    writtenEvents: events,
    writtenChars: chars,
  };
}

const routes: Record<string, "chat" | "responses" | undefined> = {
  "/v1/chat/completions": "chat",
  "/v1/responses": "responses",
};

// ---------------------------------------------------------------------------
// Reply planning (API-independent)
// ---------------------------------------------------------------------------

function buildPlan(body: Json, api: "chat" | "responses", reply: ScriptedReply, nextId: (p: string) => string): Plan {
  const toolCalls = (reply.toolCalls ?? []).map((tc) => ({
    id: tc.id ?? nextId("call"),
    name: tc.name,
    arguments: typeof tc.arguments === "string" ? tc.arguments : JSON.stringify(tc.arguments),
  }));
  let content: string | null = reply.content ?? null;
  if (content === null && toolCalls.length === 0) {
    const schema = api === "chat" ? chatJsonSchema(body) : responsesJsonSchema(body);
    content = schema === undefined ? DEFAULT_CONTENT : JSON.stringify(minimalValue(schema, schema));
  }
  // `n` only exists on Chat Completions; the Responses API always returns one output.
  const n = api === "chat" && typeof body.n === "number" && body.n > 1 ? Math.floor(body.n) : 1;

  // Derived even when usage is null (a proxy dropped it): the provider still used, and billed, these.
  const s = reply.usage ?? {};
  const completionText =
    (content ?? "") + (toolCalls.length ? JSON.stringify(toolCalls.map(({ name, arguments: a }) => ({ name, arguments: a }))) : "");
  const derived: Required<ScriptedUsage> = {
    promptTokens: s.promptTokens ?? estimateTokens(JSON.stringify((api === "chat" ? body.messages : body.input) ?? "")),
    completionTokens: s.completionTokens ?? estimateTokens(completionText) * n,
    cachedTokens: s.cachedTokens ?? 0,
    cacheWriteTokens: s.cacheWriteTokens ?? 0,
    reasoningTokens: s.reasoningTokens ?? 0,
    inputAudioTokens: s.inputAudioTokens ?? 0,
    outputAudioTokens: s.outputAudioTokens ?? 0,
  };
  return {
    model: reply.model ?? (typeof body.model === "string" ? body.model : "gpt-4o-mini"),
    content,
    toolCalls,
    n,
    usage: reply.usage === null ? null : derived,
    billUsage: derived,
    hasRawUsage: reply.rawUsage !== undefined,
    rawUsage: reply.rawUsage,
    totalChars: n * ((content ?? "").length + toolCalls.reduce((sum, tc) => sum + tc.arguments.length, 0)),
    hasCacheWrite: reply.usage?.cacheWriteTokens !== undefined,
    extraUsage: reply.extraUsage ?? {},
    chunkDelayMs: reply.chunkDelayMs ?? 0,
    chunkSize: Math.max(1, reply.chunkSize ?? 4),
  };
}

function chatJsonSchema(body: Json): unknown {
  const rf = body.response_format as Json | undefined;
  return rf?.type === "json_schema" ? ((rf.json_schema as Json | undefined)?.schema ?? {}) : undefined;
}

function responsesJsonSchema(body: Json): unknown {
  const format = (body.text as Json | undefined)?.format as Json | undefined;
  return format?.type === "json_schema" ? (format.schema ?? {}) : undefined;
}

/**
 * Smallest value satisfying a JSON schema's required shape. Handles what zod v4 /
 * LangChain emit: type (incl. ["x","null"]), enum/const, anyOf/oneOf/allOf,
 * local $ref into $defs/definitions, and min* bounds.
 */
function minimalValue(schema: unknown, root: unknown, depth = 0): unknown {
  if (depth > 32 || typeof schema !== "object" || schema === null) return null;
  const s = schema as Json;
  if (typeof s.$ref === "string") {
    const target = s.$ref
      .replace(/^#\/?/, "")
      .split("/")
      .filter(Boolean)
      .reduce<unknown>((node, key) => (node as Json | undefined)?.[key], root);
    return minimalValue(target, root, depth + 1);
  }
  if ("const" in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length) return s.enum[0];
  const union = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
  if (Array.isArray(union) && union.length) {
    const pick = union.find((o) => (o as Json).type !== "null") ?? union[0];
    return minimalValue(pick, root, depth + 1);
  }
  if (Array.isArray(s.allOf)) {
    return Object.assign({}, ...s.allOf.map((part) => minimalValue(part, root, depth + 1) as object));
  }
  const types = Array.isArray(s.type) ? (s.type as unknown[]) : [s.type];
  const type = types.find((t) => t !== "null") ?? (s.properties ? "object" : types[0]);
  const num = (key: string): number | undefined => (typeof s[key] === "number" ? (s[key] as number) : undefined);
  switch (type) {
    case "string":
      return "x".repeat(Math.max(1, num("minLength") ?? 1));
    case "number":
    case "integer":
      return Math.min(Math.max(1, Math.ceil(num("minimum") ?? 1)), num("maximum") ?? Infinity);
    case "boolean":
      return true;
    case "array":
      return Array.from({ length: num("minItems") ?? 0 }, () => minimalValue(s.items, root, depth + 1));
    case "object": {
      const props = (s.properties ?? {}) as Json;
      const required = Array.isArray(s.required) ? (s.required as string[]) : [];
      return Object.fromEntries(required.map((key) => [key, minimalValue(props[key], root, depth + 1)]));
    }
    default:
      return null;
  }
}

// ---------------------------------------------------------------------------
// Chat Completions
// ---------------------------------------------------------------------------

/** The wire `usage` for Chat Completions: rawUsage verbatim, else derived; undefined = omit. */
function chatUsage(plan: Plan): unknown {
  if (plan.hasRawUsage) return plan.rawUsage;
  const u = plan.usage;
  if (!u) return undefined;
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.promptTokens + u.completionTokens,
    prompt_tokens_details: {
      cached_tokens: u.cachedTokens,
      audio_tokens: u.inputAudioTokens,
      ...(plan.hasCacheWrite ? { cache_write_tokens: u.cacheWriteTokens } : {}),
    },
    completion_tokens_details: { reasoning_tokens: u.reasoningTokens, audio_tokens: u.outputAudioTokens },
    ...plan.extraUsage,
  };
}

const finishReason = (plan: Plan): string => (plan.toolCalls.length ? "tool_calls" : "stop");
const now = (): number => Math.floor(Date.now() / 1000);

function chatCompletion(plan: Plan, id: string): Json {
  const toolCalls = plan.toolCalls.map((tc) => ({
    id: tc.id,
    type: "function",
    function: { name: tc.name, arguments: tc.arguments },
  }));
  const usage = chatUsage(plan);
  return {
    id,
    object: "chat.completion",
    created: now(),
    model: plan.model,
    system_fingerprint: "fp_fake",
    choices: Array.from({ length: plan.n }, (_, index) => ({
      index,
      message: {
        role: "assistant",
        content: plan.content,
        ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
        refusal: null,
      },
      finish_reason: finishReason(plan),
      logprobs: null,
    })),
    ...(usage === undefined ? {} : { usage }),
  };
}

/** One SSE event and the content / tool-argument characters it carries (for the bill). */
interface StreamEvent {
  text: string;
  chars: number;
}

function* chatStreamEvents(plan: Plan, body: Json, id: string): Generator<StreamEvent> {
  const created = now();
  const includeUsage = (body.stream_options as Json | undefined)?.include_usage === true && (plan.usage !== null || plan.hasRawUsage);
  // Like OpenAI: with include_usage every content chunk carries `usage: null`.
  const chunk = (choices: Json[], extra: Json = includeUsage ? { usage: null } : {}, chars = 0): StreamEvent => ({
    text: sse({ id, object: "chat.completion.chunk", created, model: plan.model, system_fingerprint: "fp_fake", choices, ...extra }),
    chars,
  });
  const choice = (index: number, delta: Json, finish: string | null = null): Json => ({
    index,
    delta,
    logprobs: null,
    finish_reason: finish,
  });

  for (let index = 0; index < plan.n; index++) {
    yield chunk([choice(index, { role: "assistant", content: "", refusal: null })]);
    for (const piece of split(plan.content ?? "", plan.chunkSize)) {
      yield chunk([choice(index, { content: piece })], undefined, piece.length);
    }
    for (const [i, tc] of plan.toolCalls.entries()) {
      // First delta names the call (id/type/name, empty args); the rest stream arguments only.
      yield chunk([
        choice(index, { tool_calls: [{ index: i, id: tc.id, type: "function", function: { name: tc.name, arguments: "" } }] }),
      ]);
      for (const piece of split(tc.arguments, plan.chunkSize)) {
        yield chunk([choice(index, { tool_calls: [{ index: i, function: { arguments: piece } }] })], undefined, piece.length);
      }
    }
    yield chunk([choice(index, {}, finishReason(plan))]);
  }
  if (includeUsage) yield chunk([], { usage: chatUsage(plan) });
}

// ---------------------------------------------------------------------------
// Responses API
// ---------------------------------------------------------------------------

/** The wire `usage` for the Responses API: rawUsage verbatim, else derived; undefined = omit. */
function responsesUsage(plan: Plan): unknown {
  if (plan.hasRawUsage) return plan.rawUsage;
  const u = plan.usage;
  if (!u) return undefined;
  return {
    input_tokens: u.promptTokens,
    input_tokens_details: {
      cached_tokens: u.cachedTokens,
      ...(plan.hasCacheWrite ? { cache_write_tokens: u.cacheWriteTokens } : {}),
    },
    output_tokens: u.completionTokens,
    output_tokens_details: { reasoning_tokens: u.reasoningTokens },
    total_tokens: u.promptTokens + u.completionTokens,
    ...plan.extraUsage,
  };
}

/** The output items of a completed response; ids are fixed up-front so the stream and final object agree. */
function responseOutput(plan: Plan, nextId: (p: string) => string): Json[] {
  const items: Json[] = [];
  if (plan.content !== null) {
    items.push({
      type: "message",
      id: nextId("msg"),
      role: "assistant",
      status: "completed",
      content: [{ type: "output_text", text: plan.content, annotations: [] }],
    });
  }
  for (const tc of plan.toolCalls) {
    items.push({ type: "function_call", id: nextId("fc"), call_id: tc.id, name: tc.name, arguments: tc.arguments, status: "completed" });
  }
  return items;
}

/** Full Response envelope. `text` is echoed because LangChain reads response.text.format to parse structured output. */
function responseEnvelope(plan: Plan, body: Json, id: string, createdAt: number, status: string, output: Json[], usage: unknown): Json {
  return {
    id,
    object: "response",
    created_at: createdAt,
    status,
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    model: plan.model,
    output,
    parallel_tool_calls: true,
    previous_response_id: body.previous_response_id ?? null,
    text: body.text ?? { format: { type: "text" } },
    tool_choice: body.tool_choice ?? "auto",
    tools: body.tools ?? [],
    metadata: {},
    ...(usage === undefined ? {} : { usage }),
  };
}

function responseObject(plan: Plan, body: Json, nextId: (p: string) => string): Json {
  return responseEnvelope(plan, body, nextId("resp"), now(), "completed", responseOutput(plan, nextId), responsesUsage(plan));
}

function* responsesStreamEvents(plan: Plan, body: Json, nextId: (p: string) => string): Generator<StreamEvent> {
  const id = nextId("resp");
  const createdAt = now();
  const output = responseOutput(plan, nextId);
  let sequence = 0;
  // Responses SSE names each event (`event:` line) and repeats the type inside the data.
  const event = (type: string, data: Json, chars = 0): StreamEvent => ({ text: sse({ type, sequence_number: sequence++, ...data }, type), chars });

  yield event("response.created", { response: responseEnvelope(plan, body, id, createdAt, "in_progress", [], null) });
  yield event("response.in_progress", { response: responseEnvelope(plan, body, id, createdAt, "in_progress", [], null) });

  for (const [outputIndex, item] of output.entries()) {
    const itemId = item.id as string;
    if (item.type === "message") {
      const text = plan.content ?? "";
      const part = { type: "output_text", text: "", annotations: [] };
      const at = { item_id: itemId, output_index: outputIndex, content_index: 0 };
      yield event("response.output_item.added", {
        output_index: outputIndex,
        item: { ...item, status: "in_progress", content: [] },
      });
      yield event("response.content_part.added", { ...at, part });
      for (const delta of split(text, plan.chunkSize)) {
        yield event("response.output_text.delta", { ...at, delta, logprobs: [] }, delta.length);
      }
      yield event("response.output_text.done", { ...at, text, logprobs: [] });
      yield event("response.content_part.done", { ...at, part: { ...part, text } });
    } else {
      const args = item.arguments as string;
      const at = { item_id: itemId, output_index: outputIndex };
      yield event("response.output_item.added", {
        output_index: outputIndex,
        item: { ...item, status: "in_progress", arguments: "" },
      });
      for (const delta of split(args, plan.chunkSize)) {
        yield event("response.function_call_arguments.delta", { ...at, delta }, delta.length);
      }
      yield event("response.function_call_arguments.done", { ...at, name: item.name, arguments: args });
    }
    yield event("response.output_item.done", { output_index: outputIndex, item });
  }
  yield event("response.completed", {
    response: responseEnvelope(plan, body, id, createdAt, "completed", output, responsesUsage(plan)),
  });
}

// ---------------------------------------------------------------------------
// HTTP helpers
// ---------------------------------------------------------------------------

function sse(data: Json, eventName?: string): string {
  return `${eventName ? `event: ${eventName}\n` : ""}data: ${JSON.stringify(data)}\n\n`;
}

function split(text: string, size: number): string[] {
  const pieces: string[] = [];
  for (let i = 0; i < text.length; i += size) pieces.push(text.slice(i, i + size));
  return pieces;
}

function errorBody(status: number, message = `Fake error ${status}`): Json {
  const [type, code] =
    status === 429
      ? ["rate_limit_error", "rate_limit_exceeded"]
      : status === 401
        ? ["authentication_error", "invalid_api_key"]
        : status === 404
          ? ["not_found_error", "not_found"]
          : status >= 500
            ? ["server_error", "server_error"]
            : ["invalid_request_error", "invalid_request"];
  return { error: { message, type, param: null, code } };
}

function sendJson(res: ServerResponse, status: number, payload: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(payload));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** Waits `ms`, but returns early once the client has gone so aborted streams stop promptly. */
function sleep(ms: number, res: ServerResponse): Promise<void> {
  if (ms <= 0 || res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      res.off("close", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    res.on("close", done);
  });
}

/** Resolves when the response's connection is gone (client abort, fault, server close). */
function closed(res: ServerResponse): Promise<void> {
  if (res.destroyed || res.socket === null || res.socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => res.once("close", () => resolve()));
}

/**
 * Ends the TCP connection mid-response: whatever was written is flushed first
 * (socket.end() uncorks and sends it, then FIN), but no terminating chunk and no
 * more body ever follow, so the client sees the connection close mid-body.
 */
function closeConnection(res: ServerResponse): void {
  const socket = res.socket;
  if (!socket || socket.destroyed) {
    res.destroy();
    return;
  }
  socket.end(() => socket.destroy());
}
