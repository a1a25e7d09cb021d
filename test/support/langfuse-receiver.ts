/**
 * A loopback stand-in for a Langfuse server: it records what the real Langfuse SDKs send, on the two wire
 * formats they use, and folds it into observations the way the server does.
 *
 * - v3 (`langfuse-langchain`): `POST /api/public/ingestion`, Basic auth (public:secret key),
 *   `{ batch: [{ id, type, timestamp, body }] }`; answered 207 like the real endpoint.
 * - v5 (`@langfuse/langchain` + `@langfuse/otel`): OTLP/JSON on `POST /api/public/otel/v1/traces`, one span
 *   per observation, Langfuse fields in `langfuse.*` attributes (costs in `langfuse.observation.cost_details`).
 *
 * Why a server and not a mock of the client: the contract under test is what reaches Langfuse, after the
 * SDKs' own queueing, batching, masking and serialization. Tests, the example and the benchmark share it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { listenOnLoopback, readBody, sendJson } from "./loopback.js";

/** One v3 ingestion event, as sent. */
export interface IngestionEvent {
  id: string;
  type: string;
  timestamp: string;
  body: Record<string, any>; // deliberately loose, for terse assertions
}

/** One OTLP span, with its attributes decoded to plain values. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  attributes: Record<string, unknown>;
}

/** An observation as Langfuse would store it, whichever SDK sent it. */
export interface Observation {
  id: string;
  traceId: string | undefined;
  type: string;
  name: string | undefined;
  parentObservationId: string | undefined;
  model: string | undefined;
  usageDetails: Record<string, number> | undefined;
  costDetails: Record<string, number> | undefined;
  metadata: Record<string, unknown> | undefined;
  level: string | undefined;
  statusMessage: string | undefined;
}

export interface LangfuseReceiver {
  /** The base URL to give the SDKs (`baseUrl`). */
  url: string;
  publicKey: string;
  secretKey: string;
  /** v3 events, in arrival order. */
  events: IngestionEvent[];
  /** v5 spans, in arrival order. */
  spans: ReceivedSpan[];
  /** Requests refused for bad credentials. */
  unauthorized: number;
  /** Every observation, v3 events folded by id (later fields win, metadata merged), v5 spans one each. */
  observations(): Observation[];
  /** The generations only. */
  generations(): Observation[];
  /** v3 trace ids created with `trace-create`. */
  traceIds(): string[];
  reset(): void;
  close(): Promise<void>;
}

/** Starts a receiver on a free loopback port; it accepts only Basic auth with `publicKey:secretKey`. */
export async function startLangfuseReceiver(
  options: { publicKey?: string; secretKey?: string } = {},
): Promise<LangfuseReceiver> {
  const publicKey = options.publicKey ?? "pk-lf-test";
  const secretKey = options.secretKey ?? "sk-lf-test";
  const expectedAuth = `Basic ${Buffer.from(`${publicKey}:${secretKey}`).toString("base64")}`;
  const events: IngestionEvent[] = [];
  const spans: ReceivedSpan[] = [];
  let unauthorized = 0;

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => sendJson(res, 500, { message: String(error) }));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const path = (req.url ?? "/").split("?")[0];
    if (req.headers.authorization !== expectedAuth) {
      unauthorized++;
      return sendJson(res, 401, { message: "Invalid credentials" });
    }
    if (req.method === "POST" && path === "/api/public/ingestion") {
      const batch = (JSON.parse(raw) as { batch: IngestionEvent[] }).batch;
      events.push(...batch);
      return sendJson(res, 207, { successes: batch.map(({ id }) => ({ id, status: 201 })), errors: [] });
    }
    if (req.method === "POST" && path === "/api/public/otel/v1/traces") {
      if (!String(req.headers["content-type"]).includes("application/json")) {
        return sendJson(res, 415, { message: "This receiver speaks OTLP/JSON only" });
      }
      spans.push(...decodeOtlp(JSON.parse(raw)));
      return sendJson(res, 200, {});
    }
    return sendJson(res, 404, { message: `Unknown path: ${req.method} ${path}` });
  }

  const { url, close } = await listenOnLoopback(server);

  const observations = () => [...foldEvents(events), ...spans.map(spanObservation)];
  return {
    url,
    publicKey,
    secretKey,
    events,
    spans,
    get unauthorized() {
      return unauthorized;
    },
    observations,
    generations: () => observations().filter((o) => o.type === "generation"),
    traceIds: () => [...new Set(events.filter((e) => e.type === "trace-create").map((e) => String(e.body.id)))],
    reset: () => {
      events.length = 0;
      spans.length = 0;
      unauthorized = 0;
    },
    close,
  };
}

const OBSERVATION_EVENT = /^(generation|span|event)-(create|update)$/;

/** v3: creates and updates of one observation merge; a later value wins, metadata objects merge. */
function foldEvents(events: IngestionEvent[]): Observation[] {
  const byId = new Map<string, Observation>();
  for (const { type, body } of events) {
    const match = OBSERVATION_EVENT.exec(type);
    if (!match) continue;
    const id = String(body.id);
    const seen = byId.get(id);
    const next: Observation = {
      id,
      traceId: body.traceId ?? seen?.traceId,
      type: match[1] ?? "span",
      name: body.name ?? seen?.name,
      parentObservationId: body.parentObservationId ?? seen?.parentObservationId,
      model: body.model ?? seen?.model,
      usageDetails: body.usageDetails ?? seen?.usageDetails,
      costDetails: body.costDetails ?? seen?.costDetails,
      metadata: body.metadata || seen?.metadata ? { ...seen?.metadata, ...body.metadata } : undefined,
      level: body.level ?? seen?.level,
      statusMessage: body.statusMessage ?? seen?.statusMessage,
    };
    byId.set(id, next);
  }
  return [...byId.values()];
}

const METADATA_PREFIX = "langfuse.observation.metadata.";

function spanObservation(span: ReceivedSpan): Observation {
  const a = span.attributes;
  const text = (key: string) => (typeof a[key] === "string" ? (a[key] as string) : undefined);
  const json = <T>(key: string) => (text(key) === undefined ? undefined : (JSON.parse(text(key) as string) as T));
  const metadata = Object.entries(a)
    .filter(([key]) => key.startsWith(METADATA_PREFIX))
    .map(([key, value]) => [key.slice(METADATA_PREFIX.length), parseMaybe(value)] as const);
  return {
    id: span.spanId,
    traceId: span.traceId,
    type: text("langfuse.observation.type") ?? "span",
    name: span.name,
    parentObservationId: span.parentSpanId,
    model: text("langfuse.observation.model.name"),
    usageDetails: json("langfuse.observation.usage_details"),
    costDetails: json("langfuse.observation.cost_details"),
    metadata: metadata.length ? Object.fromEntries(metadata) : undefined,
    level: text("langfuse.observation.level"),
    statusMessage: text("langfuse.observation.status_message"),
  };
}

function parseMaybe(value: unknown): unknown {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** OTLP/JSON `ExportTraceServiceRequest` → spans (ids are hex strings in the JSON encoding). */
function decodeOtlp(request: any): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const resource of request.resourceSpans ?? []) {
    for (const scope of resource.scopeSpans ?? []) {
      for (const span of scope.spans ?? []) {
        out.push({
          traceId: span.traceId,
          spanId: span.spanId,
          parentSpanId: span.parentSpanId || undefined,
          name: span.name,
          attributes: Object.fromEntries((span.attributes ?? []).map((kv: any) => [kv.key, anyValue(kv.value)])),
        });
      }
    }
  }
  return out;
}

function anyValue(value: any): unknown {
  if (!value) return undefined;
  if ("stringValue" in value) return value.stringValue;
  if ("boolValue" in value) return value.boolValue;
  if ("intValue" in value) return Number(value.intValue);
  if ("doubleValue" in value) return value.doubleValue;
  if ("arrayValue" in value) return (value.arrayValue.values ?? []).map(anyValue);
  if ("kvlistValue" in value) {
    return Object.fromEntries((value.kvlistValue.values ?? []).map((kv: any) => [kv.key, anyValue(kv.value)]));
  }
  return undefined;
}


