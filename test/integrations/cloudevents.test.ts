/**
 * `CloudEventsMeterSink` (`langchain-metered/cloudevents`) against a loopback CloudEvents receiver that can fail
 * (503), stall (store the batch, never answer), refuse (400), and be stopped and restarted on the same port.
 *
 * What must hold: every billed call id ends up at the receiver exactly once once it is deduplicated by source +
 * id (delivery is at least once); "held", "released" and "refused" entries are never sent; the spool keeps what
 * the endpoint did not acknowledge, in order, across a new sink on the same directory and across a crash, and
 * the sink itself never sends an acknowledged event again; a full spool drops (and counts) instead of blocking.
 *
 * No timed assertions: waits poll the receiver's state (bounded), retries use 1 ms backoff, stalls a 100 ms timeout.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { InvalidOptionsError, type MeterEntry, type MeterSink } from "../../src/index.js";
import {
  CloudEventsDeliveryError,
  CloudEventsMeterSink,
  type CloudEventsMeterSinkOptions,
  SpoolFullError,
} from "../../src/integrations/cloudevents.js";
import { type CloudEventsReceiver, startCloudEventsReceiver } from "../support/cloudevents-receiver.js";
import { useFakeOpenAI } from "../support/metered.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const fake = useFakeOpenAI();
let receiver: CloudEventsReceiver;
const dirs: string[] = [];
const sinks: CloudEventsMeterSink[] = [];

beforeAll(async () => {
  receiver = await startCloudEventsReceiver();
});
afterAll(async () => {
  await receiver.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  receiver.reset();
  await receiver.start();
  // The sink warns (once per outage) when the endpoint is down; expected here.
  vi.spyOn(console, "warn").mockImplementation(() => {});
});
afterEach(async () => {
  receiver.mode = "ok";
  await Promise.all(sinks.splice(0).map((sink) => sink.close()));
  vi.restoreAllMocks();
});

const spoolDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "lcm-cloudevents-"));
  dirs.push(dir);
  return dir;
};
const segments = (dir: string) => readdirSync(dir).filter((name) => /^seg-\d+\.ndjson$/.test(name));

/** A sink pointed at the receiver: fast retries, no timer unless asked (flush() drives it), closed after each test. */
function sinkFor(options: Partial<CloudEventsMeterSinkOptions> = {}): CloudEventsMeterSink {
  const sink = new CloudEventsMeterSink({
    url: receiver.url,
    headers: { Authorization: `Bearer ${receiver.token}` },
    flushIntervalMs: 3_600_000,
    maxRetries: 1,
    backoffMs: 1,
    maxBackoffMs: 5,
    timeoutMs: 2_000,
    ...options,
  });
  sinks.push(sink);
  return sink;
}

const NANO = 450_000;
/** A metering-log entry as the budget writes it: $0.00045 for 1000 in + 500 out of gpt-4o-mini. */
function entry(id: string, over: Partial<MeterEntry> = {}): MeterEntry {
  return {
    callId: id,
    time: "2026-11-28T15:00:00.120Z",
    runId: "run-1",
    parentRunId: undefined,
    quotaKeys: ["user:u1:day:2026-11-28", "tenant:acme:month:2026-11"],
    provider: "openai",
    model: "gpt-4o-mini",
    usage: {
      inputTokens: 1000,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      cacheWrite1hTokens: 0,
      inputAudioTokens: 0,
      outputTokens: 500,
      reasoningTokens: 0,
      outputAudioTokens: 0,
    },
    costUsd: 0.00045,
    costNanoUsd: NANO,
    priceSource: "genai-prices@0.1.8",
    estimated: false,
    decision: "allowed",
    ...over,
  };
}
const ids = (n: number, prefix = "call") => Array.from({ length: n }, (_, i) => `${prefix}-${String(i + 1).padStart(3, "0")}`);
const receivedIds = () => receiver.events().map((event) => event.id);
/** Every id arrived at least once, and the receiver keeps each once. */
const expectExactlyOnce = (expected: string[]) => {
  expect([...receivedIds()].sort()).toEqual([...expected].sort());
  expect(new Set(receivedIds()).size).toBe(receivedIds().length);
};

describe("CloudEventsMeterSink: events", () => {
  it("sends each billed call once, as a CloudEvent in a batch; held, released and refused entries are not sent", async () => {
    const sink = sinkFor({ subject: "tenant" });
    await sink.write(entry("c1", { decision: "held", costNanoUsd: 9_000_000, costUsd: 0.009 }));
    await sink.write(entry("c1"));
    await sink.write(entry("c2", { decision: "held" }));
    await sink.write(entry("c2", { decision: "released", costUsd: 0, costNanoUsd: 0 }));
    await sink.write(entry("c3", { decision: "refused", costUsd: 0, costNanoUsd: 0 }));
    await sink.write(entry("c4", { decision: "clamped" }));
    await sink.write(entry("c5", { decision: "exceeded", provider: undefined, runId: undefined }));
    await sink.flush();

    expect(receiver.requests).toHaveLength(1);
    expect(receiver.requests[0]).toMatchObject({
      contentType: "application/cloudevents-batch+json",
      authorization: `Bearer ${receiver.token}`,
      events: 3,
      status: 202,
    });
    expect(receivedIds()).toEqual(["c1", "c4", "c5"]);
    const [c1, , c5] = receiver.events();
    expect(c1).toEqual({
      specversion: "1.0",
      id: "c1",
      source: "langchain-metered",
      type: "langchain-metered.call",
      subject: "acme",
      time: "2026-11-28T15:00:00.120Z",
      datacontenttype: "application/json",
      data: {
        costUsd: 0.00045,
        costNanoUsd: NANO,
        totalTokens: 1500,
        inputTokens: 1000,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
        cacheWrite1hTokens: 0,
        cacheReadAudioTokens: 0,
        inputAudioTokens: 0,
        outputTokens: 500,
        reasoningTokens: 0,
        outputAudioTokens: 0,
        webSearchRequests: 0,
        model: "gpt-4o-mini",
        provider: "openai",
        decision: "allowed",
        estimated: false,
        priceSource: "genai-prices@0.1.8",
        quotaKeys: ["user:u1:day:2026-11-28", "tenant:acme:month:2026-11"],
        runId: "run-1",
      },
    });
    expect(c5?.data).not.toHaveProperty("provider");
    expect(c5?.data).not.toHaveProperty("runId");
    expect(sink.stats).toMatchObject({ sent: 3, pendingEvents: 0, pendingBytes: 0, dropped: 0, rejected: 0, lastError: undefined });
  });

  it("subject: the first quota key without its window by default, a quota key's prefix, or a function; type and source as given", async () => {
    const keys = ["user:u1:day:2026-11-28", "tenant:acme:month:2026-11", "team:t:9:week:2026-11-23", "org:o1:total"];
    const byDefault = sinkFor();
    expect(byDefault.toEvent(entry("a", { quotaKeys: keys })).subject).toBe("user:u1");
    expect(byDefault.toEvent(entry("a", { quotaKeys: [] }))).not.toHaveProperty("subject");
    const byPrefix = sinkFor({ subject: "team", type: "llm_cost", source: "svc-eu-1" });
    expect(byPrefix.toEvent(entry("a", { quotaKeys: keys }))).toMatchObject({ subject: "t:9", type: "llm_cost", source: "svc-eu-1" });
    expect(sinkFor({ subject: "org" }).toEvent(entry("a", { quotaKeys: keys })).subject).toBe("o1");
    expect(byPrefix.toEvent(entry("a", { quotaKeys: ["user:u1:day:2026-11-28"] }))).not.toHaveProperty("subject");
    const customers: Record<string, string> = { acme: "cus_NciAYcXfLnqBoz" };
    const byFunction = sinkFor({ subject: (e) => customers[e.quotaKeys[1]?.split(":")[1] ?? ""] });
    expect(byFunction.toEvent(entry("a")).subject).toBe("cus_NciAYcXfLnqBoz");

    // A subject function that returns something else fails that write (the budget counts it), not the sink.
    const bad = sinkFor({ subject: () => 42 as unknown as string });
    await expect(bad.write(entry("b"))).rejects.toThrow(/subject\(entry\) must return a non-empty string or undefined, got 42 \(number\)/);
  });

  it("batches of at most batchSize, in the order written; a full batch goes without waiting for the timer", async () => {
    const sink = sinkFor({ batchSize: 10 });
    const all = ids(25);
    for (const id of all) await sink.write(entry(id));
    await receiver.until(() => receiver.receivedCount >= 20, "the two full batches");
    await sink.flush();
    expect(receiver.requests.map((request) => request.events)).toEqual([10, 10, 5]);
    expect(receivedIds()).toEqual(all);
    expect(receiver.receivedCount).toBe(25);
  });

  it("the timer sends what was written in each interval", async () => {
    const sink = sinkFor({ flushIntervalMs: 10 });
    for (const id of ids(3)) await sink.write(entry(id));
    await receiver.until(() => sink.stats.sent === 3, "the timer's batch, acknowledged");
    expectExactlyOnce(ids(3));
    expect(sink.stats.sent).toBe(3);
  });
});

describe("CloudEventsMeterSink: outages", () => {
  it("5xx: writes still resolve (spooled), flush rejects after its retries, and the next flush sends everything once", async () => {
    const sink = sinkFor({ batchSize: 4, maxRetries: 2 });
    receiver.mode = "fail";
    const all = ids(10);
    for (const id of all) await sink.write(entry(id));
    await expect(sink.flush()).rejects.toBeInstanceOf(CloudEventsDeliveryError);
    await expect(sink.flush()).rejects.toThrow(/answered HTTP 503/);
    expect(sink.stats).toMatchObject({ sent: 0, pendingEvents: 10 });
    expect(receiver.requests.every((request) => request.status === 503)).toBe(true);
    expect(console.warn).toHaveBeenCalledTimes(1); // once per outage

    receiver.mode = "ok";
    await sink.flush();
    expectExactlyOnce(all);
    expect(receivedIds()).toEqual(all); // in order
    expect(receiver.receivedCount).toBe(10);
    expect(sink.stats).toMatchObject({ sent: 10, pendingEvents: 0, pendingBytes: 0, lastError: undefined });
  });

  it("stopped, restarted on the same port, then stalling: every call id ends up at the receiver exactly once", async () => {
    const sink = sinkFor({ spoolDir: spoolDir(), batchSize: 5, timeoutMs: 100, flushIntervalMs: 10 });
    await receiver.stop();
    const all = ids(30);
    for (const id of all.slice(0, 10)) await sink.write(entry(id));
    await expect(sink.flush()).rejects.toThrow(/failed/); // connection refused
    expect(sink.stats.pendingEvents).toBe(10);

    await receiver.start();
    receiver.mode = "stall"; // the receiver stores each batch but never acknowledges it: the sink sends it again
    for (const id of all.slice(10, 20)) await sink.write(entry(id));
    await receiver.until(() => [...receiver.arrivals().values()].some((n) => n > 1), "a batch sent again after a timeout");
    expect(sink.stats.sent).toBe(0);

    receiver.mode = "fail";
    for (const id of all.slice(20, 25)) await sink.write(entry(id));
    await receiver.until(() => receiver.requests.filter((request) => request.status === 503).length >= 2, "503s");

    receiver.mode = "ok";
    for (const id of all.slice(25)) await sink.write(entry(id));
    await receiver.until(() => receiver.events().length === 30 && sink.stats.pendingEvents === 0, "every event, acknowledged");
    expectExactlyOnce(all);
    expect(sink.stats).toMatchObject({ sent: 30, pendingEvents: 0, dropped: 0 });
  });

  it("a batch the endpoint refuses for good (400) is set aside beside the spool, and the next ones go on", async () => {
    const dir = spoolDir();
    const sink = sinkFor({ spoolDir: dir, batchSize: 2 });
    receiver.mode = "reject";
    await sink.write(entry("r1"));
    await sink.write(entry("r2"));
    await sink.flush();
    expect(sink.stats).toMatchObject({ rejected: 2, sent: 0, pendingEvents: 0 });
    const rejected = readdirSync(dir).filter((name) => name.startsWith("rejected-"));
    expect(rejected).toHaveLength(1);
    expect(readFileSync(join(dir, rejected[0] ?? ""), "utf8")).toContain('"id":"r2"');
    expect(receiver.requests).toHaveLength(1); // not retried

    receiver.mode = "ok";
    await sink.write(entry("r3"));
    await sink.flush();
    expect(receivedIds()).toEqual(["r3"]);
  });
});

describe("CloudEventsMeterSink: the spool", () => {
  it("survives a new sink on the same directory: what was acknowledged is not sent again, the rest is, in order", async () => {
    const dir = spoolDir();
    const all = ids(30);
    const first = sinkFor({ spoolDir: dir, batchSize: 10 });
    for (const id of all.slice(0, 10)) await first.write(entry(id));
    await first.flush(); // 10 acknowledged
    await receiver.stop();
    for (const id of all.slice(10)) await first.write(entry(id));
    await first.close(); // can't deliver: left in the spool
    expect(first.stats).toMatchObject({ sent: 10, pendingEvents: 20 });
    expect(segments(dir)).toHaveLength(2);
    expect(existsSync(join(dir, ".lock"))).toBe(false);
    await expect(first.write(entry("late"))).rejects.toThrow(/after close/);

    await receiver.start();
    const second = sinkFor({ spoolDir: dir, batchSize: 10 });
    expect(second.stats.pendingEvents).toBe(0); // not read yet: the spool opens asynchronously
    await second.flush();
    expectExactlyOnce(all);
    expect(receivedIds()).toEqual(all);
    expect(receiver.receivedCount).toBe(30); // nothing sent twice by the sinks
    expect(second.stats).toMatchObject({ sent: 20, pendingEvents: 0 });
    expect(segments(dir)).toEqual([]);
  });

  it("one open sink per spool directory in a process", async () => {
    const dir = spoolDir();
    const first = sinkFor({ spoolDir: dir });
    expect(() => sinkFor({ spoolDir: dir })).toThrow(/is in use by another open sink of this process; close\(\) it first/);
    await first.close();
    expect(() => sinkFor({ spoolDir: dir })).not.toThrow();
  });

  it("a full spool drops new events (counted, and their write rejects) and never blocks; what it kept is sent", async () => {
    const probe = sinkFor();
    const eventBytes = Buffer.byteLength(`${JSON.stringify(probe.toEvent(entry("call-001")))}\n`);
    const sink = sinkFor({ spoolDir: spoolDir(), maxSpoolBytes: eventBytes * 3 + 10 });
    receiver.mode = "fail";
    const all = ids(5);
    const results = await Promise.allSettled(all.map((id) => sink.write(entry(id))));
    expect(results.map((result) => result.status)).toEqual(["fulfilled", "fulfilled", "fulfilled", "rejected", "rejected"]);
    expect((results[3] as PromiseRejectedResult).reason).toBeInstanceOf(SpoolFullError);
    expect(String((results[3] as PromiseRejectedResult).reason)).toMatch(/the spool is full .* this event is dropped/);
    expect(sink.stats).toMatchObject({ dropped: 2, pendingEvents: 3 });

    receiver.mode = "ok";
    await sink.flush();
    expectExactlyOnce(all.slice(0, 3));
    // Room again: new events are spooled.
    await sink.write(entry("call-006"));
    await sink.flush();
    expect(sink.stats).toMatchObject({ sent: 4, dropped: 2, pendingBytes: 0 });
  });

  it("a crash mid-send: the next sink sends the unacknowledged batch again, and the receiver keeps each id once", async () => {
    const dir = spoolDir();
    receiver.mode = "stall"; // the batch arrives, the acknowledgement never does: the child is killed meanwhile
    const child = spawnWriter(dir, ids(8, "crash"));
    await receiver.until(() => receiver.receivedCount >= 8, "the child's batch", 20_000);
    child.kill("SIGKILL");
    await new Promise((done) => child.once("exit", done));
    expect(segments(dir).length).toBeGreaterThan(0);
    expect(readFileSync(join(dir, ".lock"), "utf8")).toBe(String(child.pid)); // a dead process's lock

    receiver.mode = "ok";
    const next = sinkFor({ spoolDir: dir }); // takes the dead process's lock over
    for (const id of ids(2, "after")) await next.write(entry(id));
    await next.flush();
    expectExactlyOnce([...ids(8, "crash"), ...ids(2, "after")]);
    expect(receiver.arrivals().get("crash-001")).toBe(2); // at least once: deduplicated by id
    expect(segments(dir)).toEqual([]);
  });
});

describe("CloudEventsMeterSink: options", () => {
  const bad = (options: unknown) => () => new CloudEventsMeterSink(options as CloudEventsMeterSinkOptions);

  it("wrong options are InvalidOptionsErrors naming each path", () => {
    expect(bad(undefined)).toThrow(InvalidOptionsError);
    expect(bad({})).toThrow(/url: Expected an http\(s\) URL, got undefined/);
    expect(bad({ url: "ftp://example.com/events" })).toThrow(/url: Expected an http\(s\) URL, got "ftp:\/\/example.com\/events" \(string\)/);
    expect(bad({ url: "http://x", batchsize: 10 })).toThrow(/did you mean `batchSize`\?/);
    expect(bad({ url: "http://x", batchSize: 0 })).toThrow(/batchSize: Expected a whole number ≥ 1, got 0 \(number\)/);
    expect(bad({ url: "http://x", maxRetries: -1 })).toThrow(/maxRetries: Expected a whole number ≥ 0, got -1 \(number\)/);
    expect(bad({ url: "http://x", maxSpoolBytes: 1.5 })).toThrow(/maxSpoolBytes: Expected a whole number ≥ 1/);
    expect(bad({ url: "http://x", flushIntervalMs: "1s" })).toThrow(/flushIntervalMs: Expected a whole number ≥ 1, got "1s" \(string\)/);
    expect(bad({ url: "http://x", headers: { Authorization: 42 } })).toThrow(/headers\.Authorization/);
    expect(bad({ url: "http://x", fetch: "fetch" })).toThrow(/fetch: Expected a function, got "fetch" \(string\)/);
    expect(bad({ url: "http://x", subject: "" })).toThrow(/subject/);
    expect(bad({ url: "http://x", spoolDir: "" })).toThrow(/spoolDir: Expected a non-empty string/);
    expect(bad({ url: "http://x", type: 1, source: null })).toThrow(/type: [\s\S]*source: /);
  });

  it("an injected fetch is used, with the headers and the batch content type", async () => {
    const calls: Array<{ url: string; init: RequestInit }> = [];
    const sink = sinkFor({
      url: "https://meter.example/api/v1/events",
      headers: { Authorization: "Bearer x", "X-Tenant": "t" },
      fetch: (async (url: string, init: RequestInit) => {
        calls.push({ url, init });
        return new Response(null, { status: 204 });
      }) as typeof fetch,
    });
    await sink.write(entry("f1"));
    await sink.flush();
    expect(calls).toHaveLength(1);
    expect(calls[0]?.url).toBe("https://meter.example/api/v1/events");
    expect(calls[0]?.init.headers).toEqual({ Authorization: "Bearer x", "X-Tenant": "t", "content-type": "application/cloudevents-batch+json" });
    expect(JSON.parse(String(calls[0]?.init.body)).map((event: { id: string }) => event.id)).toEqual(["f1"]);
  });
});

describe("CloudEventsMeterSink as a budget's meter", () => {
  it("a MeteredChatModel's calls reach the receiver, one event per call id, priced", async () => {
    fake.server.script({ usage: { promptTokens: 1000, completionTokens: 500 } }, { usage: { promptTokens: 1000, completionTokens: 500 } });
    fake.server.script({ usage: { promptTokens: 2000, completionTokens: 1000 } });
    const meter = sinkFor({ spoolDir: spoolDir(), subject: "tenant" });
    const written: MeterEntry[] = [];
    const spy: MeterSink = { write: (e) => (written.push(e), meter.write(e)) };
    const model = fake.model({
      maxTokens: 1000,
      budget: { limitUsd: 1, hardCap: true, quotas: [{ key: "tenant:{tenant_id}", limitUsd: 50, window: "month" }], meter: spy },
    });
    for (let i = 0; i < 3; i++) await model.invoke("Hello", { metadata: { tenant_id: "acme" } });
    await meter.flush();

    const billed = written.filter((e) => e.decision !== "held");
    expect(billed).toHaveLength(3);
    expect(written.some((e) => e.decision === "held")).toBe(true); // hard cap + quota: each call held first
    expectExactlyOnce(billed.map((e) => e.callId));
    const events = receiver.events();
    expect(events.map((event) => event.data.costNanoUsd)).toEqual([NANO, NANO, 2 * NANO]);
    expect(events.map((event) => [event.data.inputTokens, event.data.outputTokens])).toEqual([
      [1000, 500],
      [1000, 500],
      [2000, 1000],
    ]);
    for (const event of events) {
      expect(event).toMatchObject({ subject: "acme", data: { model: "gpt-4o-mini", provider: "openai", decision: "allowed" } });
    }
  });
});

/**
 * A child process (tsx) whose sink spools `callIds` and starts sending them to the receiver; the test kills it
 * while the receiver holds the batch (no acknowledgement).
 */
function spawnWriter(dir: string, callIds: string[]) {
  const source = pathToFileURL(join(ROOT, "src/integrations/cloudevents.ts")).href;
  const script = String.raw`
const { CloudEventsMeterSink } = await import(${JSON.stringify(source)});
const [dir, url, token, ids] = process.argv.slice(-4);
const sink = new CloudEventsMeterSink({ url, headers: { Authorization: "Bearer " + token }, spoolDir: dir, flushIntervalMs: 3600000, timeoutMs: 600000 });
for (const id of JSON.parse(ids)) {
  await sink.write({ callId: id, time: "2026-11-28T15:00:00.120Z", runId: undefined, parentRunId: undefined, quotaKeys: [], provider: "openai",
    model: "gpt-4o-mini", usage: { inputTokens: 1000, cacheReadTokens: 0, cacheWriteTokens: 0, cacheWrite1hTokens: 0, inputAudioTokens: 0,
    outputTokens: 500, reasoningTokens: 0, outputAudioTokens: 0 }, costUsd: 0.00045, costNanoUsd: 450000, priceSource: "test",
    estimated: false, decision: "allowed" });
}
await sink.flush();
`;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "--eval", script, "--", dir, receiver.url, receiver.token, JSON.stringify(callIds)], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "inherit"],
  });
  return child;
}
