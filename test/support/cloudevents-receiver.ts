/**
 * A loopback stand-in for a CloudEvents ingest endpoint (OpenMeter's `POST /api/v1/events`): it takes
 * structured JSON batches (`application/cloudevents-batch+json`, an array of events) and keeps each event once
 * by source + id, the way a deduplicating receiver stores them (the first copy wins).
 *
 * Modes (`mode`, settable at any time):
 * - `"ok"`: stores the batch, answers 202;
 * - `"fail"`: answers 503 without storing anything (the endpoint is down behind a proxy);
 * - `"stall"`: stores the batch, then never answers (the sender times out: a batch that was received but
 *   not acknowledged, which it must send again);
 * - `"reject"`: answers 400 (a batch the receiver will never take).
 *
 * `stop()` closes the port (connections are refused) and `start()` listens again on the same port.
 * Every request must carry `authorization: Bearer <token>` (401 otherwise, and nothing stored).
 */
import { createServer, type ServerResponse } from "node:http";
import { listenOnLoopback, readBody, sendJson } from "./loopback.js";

export type ReceiverMode = "ok" | "fail" | "stall" | "reject";

/** Loose on purpose: what came over the wire. */
export type ReceivedEvent = Record<string, any> & { id: string; source: string };

export interface IngestRequest {
  contentType: string | undefined;
  authorization: string | undefined;
  /** Events in the batch (0 when the body wasn't a JSON array). */
  events: number;
  /** What it was answered (undefined for a stalled one). */
  status: number | undefined;
}

export interface CloudEventsReceiver {
  /** The ingest URL (same across `stop()`/`start()`). */
  readonly url: string;
  readonly token: string;
  mode: ReceiverMode;
  /** Every request, in arrival order. */
  readonly requests: IngestRequest[];
  /** Events received in all (duplicates included). */
  readonly receivedCount: number;
  /** Each event once by source + id (the first copy), in order of first arrival. */
  events(): ReceivedEvent[];
  /** How many times each id arrived (duplicates show as > 1). */
  arrivals(): Map<string, number>;
  /** Resolves once `predicate()` holds (checked every 5 ms); rejects after `timeoutMs` (default 10 s). */
  until(predicate: () => boolean, what?: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
  readonly running: boolean;
  reset(): void;
  close(): Promise<void>;
}

export async function startCloudEventsReceiver(options: { token?: string } = {}): Promise<CloudEventsReceiver> {
  const token = options.token ?? "om_test_token";
  const requests: IngestRequest[] = [];
  const stored = new Map<string, ReceivedEvent>();
  const counts = new Map<string, number>();
  const stalled = new Set<ServerResponse>();
  let receivedCount = 0;
  let mode: ReceiverMode = "ok";

  const handle = async (req: import("node:http").IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const request: IngestRequest = {
      contentType: req.headers["content-type"],
      authorization: req.headers.authorization,
      events: 0,
      status: undefined,
    };
    requests.push(request);
    const answer = (status: number, payload: unknown) => {
      request.status = status;
      sendJson(res, status, payload);
    };
    if (req.method !== "POST" || req.url !== "/api/v1/events") return answer(404, { error: "not found" });
    if (req.headers.authorization !== `Bearer ${token}`) return answer(401, { error: "unauthorized" });
    if (mode === "fail") return answer(503, { error: "unavailable" });
    if (mode === "reject") return answer(400, { error: "bad batch" });
    if (request.contentType !== "application/cloudevents-batch+json") return answer(415, { error: `content-type ${request.contentType}` });
    let batch: unknown;
    try {
      batch = JSON.parse(body);
    } catch {
      return answer(400, { error: "not JSON" });
    }
    if (!Array.isArray(batch)) return answer(400, { error: "a batch is a JSON array" });
    for (const event of batch as ReceivedEvent[]) {
      if (event?.specversion !== "1.0" || typeof event.id !== "string" || typeof event.source !== "string" || typeof event.type !== "string") {
        return answer(400, { error: "not a CloudEvent", event });
      }
    }
    request.events = batch.length;
    for (const event of batch as ReceivedEvent[]) {
      receivedCount += 1;
      counts.set(event.id, (counts.get(event.id) ?? 0) + 1);
      const key = `${event.source}\u0000${event.id}`;
      if (!stored.has(key)) stored.set(key, event);
    }
    if (mode === "stall") {
      stalled.add(res);
      res.on("close", () => stalled.delete(res));
      return;
    }
    answer(202, {});
  };

  const serve = () =>
    createServer((req, res) => {
      handle(req, res).catch((error: unknown) => sendJson(res, 500, { error: String(error) }));
    });

  let listening = await listenOnLoopback(serve());
  const url = `${listening.url}/api/v1/events`;
  const port = Number(new URL(listening.url).port);
  let running = true;

  const receiver: CloudEventsReceiver = {
    url,
    token,
    get mode() {
      return mode;
    },
    set mode(next: ReceiverMode) {
      mode = next;
    },
    requests,
    get receivedCount() {
      return receivedCount;
    },
    events: () => [...stored.values()],
    arrivals: () => new Map(counts),
    async until(predicate, what = "the condition", timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`receiver: timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    async stop() {
      if (!running) return;
      running = false;
      for (const res of stalled) res.destroy();
      await listening.close();
    },
    async start() {
      if (running) return;
      listening = await listenOnLoopback(serve(), port);
      running = true;
    },
    get running() {
      return running;
    },
    reset() {
      requests.length = 0;
      stored.clear();
      counts.clear();
      receivedCount = 0;
      mode = "ok";
    },
    close: () => receiver.stop(),
  };
  return receiver;
}
