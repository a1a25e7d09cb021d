/**
 * A loopback stand-in for LangSmith's run ingestion API: it answers what the real `langsmith` Client asks
 * and records the runs it sends, folded by id the way the server stores them.
 *
 * The Client picks its wire format from `GET /info` (`serverInfo`, settable per receiver):
 * - `{ batch_ingest_config: { use_multipart_endpoint: false } }`: JSON batches, `POST /runs/batch`
 *   `{ post: [...], patch: [...] }`.
 * - `{}` (the default): `POST /runs/multipart`, multipart/form-data with a part per run operation
 *   (`post.<id>`, `patch.<id>`) and one per large field (`post.<id>.inputs|outputs|extra|events|error|serialized`).
 * - `{ instance_flags: { gzip_body_enabled: true } }` (and `zstd_compression_enabled: true`): the same
 *   multipart bodies with `Content-Encoding: gzip` (or `zstd`, decoded where this Node has
 *   `zlib.zstdDecompressSync`; answered 415 elsewhere, and `zstdSupported` says which).
 * - Unbatched (`autoBatchTracing: false`, or a run without a dotted order): `POST /runs` and
 *   `PATCH /runs/:id`, JSON.
 *
 * Every request must carry `x-api-key: <apiKey>` (401 otherwise, counted in `rejected`). Unknown routes are
 * answered 404 and recorded too, so a test can assert the client used only what is listed here.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import * as zlib from "node:zlib";
import { listenOnLoopback, readBodyBytes, sendJson } from "./loopback.js";

/** A run as the server would store it: its post, then its patches, field parts merged in. Loose on purpose. */
export type ReceivedRun = Record<string, any> & { id: string };

/** One ingestion request, as it came over the wire. */
export interface IngestRequest {
  method: string;
  path: string;
  contentType: string | undefined;
  contentEncoding: string | undefined;
  /** Bytes on the wire (compressed, when encoded). */
  wireBytes: number;
  /** Run operations it carried (posts + patches). */
  operations: number;
}

export interface LangSmithReceiver {
  /** The base URL to give the Client (`apiUrl`, or `LANGSMITH_ENDPOINT`). */
  url: string;
  apiKey: string;
  /** What `GET /info` answers. Set it before the Client's first request: the Client asks once. */
  serverInfo: Record<string, unknown>;
  /** Whether this Node can decode zstd bodies. */
  readonly zstdSupported: boolean;
  /** Ingestion requests, in arrival order. */
  requests: IngestRequest[];
  /** `GET /info` requests answered. */
  readonly infoRequests: number;
  /** Requests refused (bad key, unknown route, undecodable body), with why. */
  rejected: Array<{ method: string; path: string; status: number; reason: string }>;
  /** Every run, folded by id, in order of first arrival. */
  runs(): ReceivedRun[];
  /** The runs with `run_type: "llm"`. */
  llmRuns(): ReceivedRun[];
  /** The LLM runs that have ended (they have an `end_time` and outputs or an error). */
  endedLlmRuns(): ReceivedRun[];
  /** One run by id. */
  run(id: string): ReceivedRun | undefined;
  /** Resolves once `predicate()` holds (checked now and after every request); rejects after `timeoutMs`. */
  until(predicate: () => boolean, options?: { timeoutMs?: number; what?: string }): Promise<void>;
  /** Forgets runs, requests and the `/info` count (not `serverInfo`). */
  reset(): void;
  close(): Promise<void>;
}

interface Operation {
  kind: "post" | "patch";
  payload: Record<string, any>;
}

const ZSTD_DECOMPRESS = (zlib as unknown as { zstdDecompressSync?: (buf: Buffer) => Buffer }).zstdDecompressSync;

export async function startLangSmithReceiver(
  options: { serverInfo?: Record<string, unknown>; apiKey?: string } = {},
): Promise<LangSmithReceiver> {
  const apiKey = options.apiKey ?? "test";
  const operations = new Map<string, Operation[]>();
  const requests: IngestRequest[] = [];
  const rejected: LangSmithReceiver["rejected"] = [];
  const waiters = new Set<() => void>();
  let infoRequests = 0;

  const receiver: LangSmithReceiver = {
    url: "",
    apiKey,
    serverInfo: options.serverInfo ?? {},
    zstdSupported: typeof ZSTD_DECOMPRESS === "function",
    requests,
    get infoRequests() {
      return infoRequests;
    },
    rejected,
    runs: () => [...operations.entries()].map(([id, ops]) => fold(id, ops)),
    llmRuns: () => receiver.runs().filter((run) => run.run_type === "llm"),
    endedLlmRuns: () => receiver.llmRuns().filter((run) => run.end_time !== undefined && (run.outputs !== undefined || run.error !== undefined)),
    run: (id) => {
      const ops = operations.get(id);
      return ops ? fold(id, ops) : undefined;
    },
    until(predicate, { timeoutMs = 5_000, what = "the receiver's condition" } = {}) {
      if (predicate()) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!predicate()) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          const seen = receiver.runs().map((r) => `${r.run_type ?? "?"}:${r.name ?? "?"}${r.end_time ? " (ended)" : ""}`);
          reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}; runs seen: [${seen.join(", ")}]; rejected: ${JSON.stringify(rejected)}`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
    reset() {
      operations.clear();
      requests.length = 0;
      rejected.length = 0;
      infoRequests = 0;
    },
    close: async () => undefined,
  };

  function record(id: string, op: Operation): void {
    const ops = operations.get(id) ?? [];
    ops.push(op);
    operations.set(id, ops);
  }

  function refuse(req: IncomingMessage, res: ServerResponse, status: number, reason: string): void {
    rejected.push({ method: req.method ?? "", path: pathOf(req), status, reason });
    sendJson(res, status, { detail: reason });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBodyBytes(req);
    const path = pathOf(req);
    const method = req.method ?? "GET";
    if (req.headers["x-api-key"] !== apiKey) return refuse(req, res, 401, "Invalid API key");
    if (method === "GET" && path === "/info") {
      infoRequests++;
      return sendJson(res, 200, receiver.serverInfo);
    }
    const contentEncoding = header(req, "content-encoding");
    const contentType = header(req, "content-type");
    let body: Buffer;
    try {
      body = decode(raw, contentEncoding);
    } catch (error) {
      return refuse(req, res, 415, `Cannot decode body (${contentEncoding}): ${String(error)}`);
    }
    const ingest = (count: number) => requests.push({ method, path, contentType, contentEncoding, wireBytes: raw.byteLength, operations: count });

    if (method === "POST" && path === "/runs/batch") {
      const batch = JSON.parse(body.toString("utf8")) as { post?: Array<Record<string, any>>; patch?: Array<Record<string, any>> };
      for (const payload of batch.post ?? []) record(String(payload.id), { kind: "post", payload });
      for (const payload of batch.patch ?? []) record(String(payload.id), { kind: "patch", payload });
      ingest((batch.post?.length ?? 0) + (batch.patch?.length ?? 0));
      return sendJson(res, 202, {});
    }
    if (method === "POST" && path === "/runs/multipart") {
      const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType ?? "");
      if (!boundary) return refuse(req, res, 400, "multipart body without a boundary");
      const byRun = new Map<string, Operation>();
      let count = 0;
      for (const part of parseMultipart(body, (boundary[1] ?? boundary[2] ?? "").trim())) {
        const [kind, id, field] = part.name.split(".");
        if ((kind !== "post" && kind !== "patch") || !id) continue; // feedback.<id>, attachment.<id>.<name>
        const declared = /length=(\d+)/.exec(part.contentType ?? "");
        if (declared && Number(declared[1]) !== part.data.byteLength) {
          return refuse(req, res, 422, `part ${part.name}: declared length ${declared[1]}, got ${part.data.byteLength}`);
        }
        const key = `${kind}.${id}`;
        let op = byRun.get(key);
        if (!op) {
          op = { kind, payload: { id } };
          byRun.set(key, op);
          count++;
        }
        const value = JSON.parse(part.data.toString("utf8"));
        if (field === undefined) Object.assign(op.payload, value);
        else op.payload[field] = value;
      }
      for (const op of byRun.values()) record(String(op.payload.id), op);
      ingest(count);
      return sendJson(res, 202, {});
    }
    if (method === "POST" && path === "/runs") {
      const payload = JSON.parse(body.toString("utf8")) as Record<string, any>;
      record(String(payload.id), { kind: "post", payload });
      ingest(1);
      return sendJson(res, 202, {});
    }
    const patch = /^\/runs\/([0-9a-f-]{36})$/i.exec(path);
    if (method === "PATCH" && patch?.[1]) {
      const payload = JSON.parse(body.toString("utf8")) as Record<string, any>;
      record(patch[1], { kind: "patch", payload: { ...payload, id: patch[1] } });
      ingest(1);
      return sendJson(res, 202, {});
    }
    return refuse(req, res, 404, `Unknown route: ${method} ${path}`);
  }

  const server = createServer((req, res) => {
    handle(req, res)
      .catch((error: unknown) => refuse(req, res, 500, String(error)))
      .finally(() => {
        for (const check of [...waiters]) check();
      });
  });
  const { url, close } = await listenOnLoopback(server);
  receiver.url = url;
  receiver.close = close;
  return receiver;
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? "/").split("?")[0] ?? "/";
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}

function decode(raw: Buffer, encoding: string | undefined): Buffer {
  switch ((encoding ?? "identity").trim().toLowerCase()) {
    case "identity":
      return raw;
    case "gzip":
      return zlib.gunzipSync(raw);
    case "zstd":
      if (!ZSTD_DECOMPRESS) throw new Error("this Node has no zlib.zstdDecompressSync");
      return ZSTD_DECOMPRESS(raw);
    default:
      throw new Error(`unsupported Content-Encoding ${encoding}`);
  }
}

/** Posts first (a run is created before it is patched), then patches in arrival order; later values win. */
function fold(id: string, ops: Operation[]): ReceivedRun {
  const run: ReceivedRun = { id };
  for (const kind of ["post", "patch"] as const) {
    for (const op of ops) if (op.kind === kind) Object.assign(run, op.payload);
  }
  return run;
}

interface Part {
  name: string;
  contentType: string | undefined;
  data: Buffer;
}

/** multipart/form-data (RFC 7578) → parts; strict about the framing the Client writes. */
export function parseMultipart(body: Buffer, boundary: string): Part[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Part[] = [];
  let at = body.indexOf(delimiter);
  if (at !== 0) throw new Error("multipart body does not start with its boundary");
  for (;;) {
    at += delimiter.length;
    if (body.subarray(at, at + 2).toString() === "--") break; // closing delimiter
    if (body.subarray(at, at + 2).toString() !== "\r\n") throw new Error("malformed multipart delimiter line");
    at += 2;
    const headerEnd = body.indexOf("\r\n\r\n", at);
    if (headerEnd < 0) throw new Error("multipart part without a header end");
    const headers = Object.fromEntries(
      body
        .subarray(at, headerEnd)
        .toString("utf8")
        .split("\r\n")
        .map((line) => {
          const colon = line.indexOf(":");
          return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()] as const;
        }),
    );
    const next = body.indexOf(Buffer.concat([Buffer.from("\r\n"), delimiter]), headerEnd + 4);
    if (next < 0) throw new Error("multipart part without a following boundary");
    const name = /name="([^"]*)"/.exec(headers["content-disposition"] ?? "")?.[1];
    if (name === undefined) throw new Error("multipart part without a name");
    parts.push({ name, contentType: headers["content-type"], data: body.subarray(headerEnd + 4, next) });
    at = next + 2;
  }
  return parts;
}
