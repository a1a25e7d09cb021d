/**
 * storeGuard: the circuit breaker in front of a BudgetStore. Unit tests on a fake store under an injected
 * clock (no sleeping), then one against a real redis-server of this file's own, stopped and restarted.
 */
import { performance } from "node:perf_hooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InMemoryBudgetStore } from "../../src/budget/memory-store.js";
import { StoreDownError, storeGuard, type StoreGuardOptions } from "../../src/budget/store-guard.js";
import type { BudgetStore } from "../../src/budget/store.js";
import { RedisBudgetStore } from "../../src/integrations/redis.js";
import { type RedisServerHandle, startRedisServer } from "../support/redis-server.js";
import { describeRedis } from "../support/redis.js";

/**
 * A store whose answers the test decides: `succeed(i)` / `fail(i)` settle the i-th pending operation (the
 * oldest by default). The breaker's probes (`check([])`) queue up with the operations, and are counted apart.
 */
function fakeStore() {
  const pending: Array<{ resolve: (value: string) => void; reject: (error: unknown) => void }> = [];
  let calls = 0;
  let probes = 0;
  const queue = () => new Promise<string>((resolve, reject) => pending.push({ resolve, reject }));
  const store = new InMemoryBudgetStore();
  store.check = (() => {
    probes++;
    return queue();
  }) as unknown as BudgetStore["check"];
  const operation = (_store: BudgetStore) => {
    calls++;
    return queue();
  };
  return {
    store,
    operation,
    get calls() {
      return calls;
    },
    get probes() {
      return probes;
    },
    get pending() {
      return pending.length;
    },
    succeed(value = "ok", at = 0) {
      pending.splice(at, 1)[0]?.resolve(value);
    },
    fail(error: unknown = new Error("Redis did not answer within 1000 ms"), at = 0) {
      pending.splice(at, 1)[0]?.reject(error);
    },
  };
}

function setup(options: StoreGuardOptions = {}) {
  let now = 1_000_000;
  const fake = fakeStore();
  const guard = storeGuard(fake.store, { clock: () => now, ...options });
  return { fake, guard, advance: (ms: number) => void (now += ms), now: () => now };
}

/** Settles a promise's outcome into a value, so a test can look at a rejection without awaiting it twice. */
const outcome = <T>(promise: Promise<T>) => promise.then((value) => ({ value }), (error: unknown) => ({ error }));
const flush = () => new Promise((resolve) => setImmediate(resolve));

/** Makes the guard open, with the store's error `cause`. */
async function open(t: ReturnType<typeof setup>, cause = new Error("ECONNREFUSED")) {
  const first = outcome(t.guard.run(t.fake.operation));
  t.fake.fail(cause);
  expect(await first).toEqual({ error: cause });
}

describe("storeGuard", () => {
  it("is one guard per store instance", () => {
    const [a, b] = [new InMemoryBudgetStore(), new InMemoryBudgetStore()];
    expect(storeGuard(a)).toBe(storeGuard(a));
    expect(storeGuard(a)).not.toBe(storeGuard(b));
  });

  it("while the store answers, runs every operation and passes its answer on", async () => {
    const t = setup();
    const answers = [outcome(t.guard.run(t.fake.operation)), outcome(t.guard.run(t.fake.operation))];
    t.fake.succeed("a");
    t.fake.succeed("b");
    expect(await Promise.all(answers)).toEqual([{ value: "a" }, { value: "b" }]);
    expect(t.guard.isDown()).toBe(false);
  });

  it("opens on a failure: that operation gets the store's error, the next ones StoreDownError at once, without touching the store", async () => {
    const t = setup();
    const cause = new Error("Redis did not answer within 1000 ms");
    const failedAt = t.now();
    await open(t, cause);
    expect(t.guard.isDown()).toBe(true);

    t.advance(999);
    const refused = await outcome(t.guard.run(t.fake.operation));
    expect(t.fake.calls).toBe(1); // only the first one reached the store
    const error = (refused as { error: StoreDownError }).error;
    expect(error).toBeInstanceOf(StoreDownError);
    expect(error).toMatchObject({ name: "StoreDownError", cause, since: failedAt, nextProbeAt: failedAt + 1000 });
    expect(error.message).toMatch(/failing for 999 ms \(last error: Redis did not answer within 1000 ms\).*next probe goes through in 1 ms/);
  });

  it("after probeIntervalMs the next operation sends one probe; concurrent callers are refused meanwhile; its success closes, and the operation runs", async () => {
    const t = setup();
    await open(t);
    t.advance(1000);

    const first = outcome(t.guard.run(t.fake.operation));
    const during = [outcome(t.guard.run(t.fake.operation)), outcome(t.guard.run(t.fake.operation))];
    await flush();
    expect([t.fake.probes, t.fake.calls]).toEqual([1, 1]); // one probe; the only operation is the one that failed
    expect((await Promise.all(during)).map((d) => (d as { error: unknown }).error)).toEqual([
      expect.any(StoreDownError),
      expect.any(StoreDownError),
    ]);

    t.fake.succeed("probe answered"); // within probeWaitMs: the breaker closes and the operation goes on
    await flush();
    expect(t.guard.isDown()).toBe(false);
    t.fake.succeed("back");
    expect(await first).toEqual({ value: "back" });
    const after = outcome(t.guard.run(t.fake.operation));
    t.fake.succeed("again");
    expect(await after).toEqual({ value: "again" });
  });

  it("a probe slower than probeWaitMs: its caller is refused at once like the others, and the probe closes the breaker later", async () => {
    const t = setup({ probeWaitMs: 1 });
    await open(t);
    t.advance(1000);
    const first = await outcome(t.guard.run(t.fake.operation)); // the probe is sent; its answer takes longer than 1 ms
    expect(first).toEqual({ error: expect.any(StoreDownError) });
    expect(t.guard.isDown()).toBe(true);
    t.fake.succeed("probe answered late");
    await flush();
    expect(t.guard.isDown()).toBe(false);
    const next = outcome(t.guard.run(t.fake.operation));
    t.fake.succeed("ok");
    expect(await next).toEqual({ value: "ok" });
  });

  it("doubles the probe interval while probes fail, up to maxProbeIntervalMs, and starts over after a recovery", async () => {
    const t = setup({ probeIntervalMs: 1000, maxProbeIntervalMs: 8000 });
    await open(t);
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      // Find when the next probe goes through, 100 ms at a time.
      let waited = 0;
      for (;;) {
        const attempt = outcome(t.guard.run(t.fake.operation));
        await flush();
        if (t.fake.pending > 0) {
          t.fake.fail(new Error(`still down ${i}`));
          await attempt;
          break;
        }
        await attempt;
        t.advance(100);
        waited += 100;
      }
      waits.push(waited);
    }
    expect(waits).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
    const refused = (await outcome(t.guard.run(t.fake.operation))) as { error: StoreDownError };
    expect((refused.error.cause as Error).message).toBe("still down 5"); // the last error

    t.advance(8000);
    const probe = outcome(t.guard.run(t.fake.operation));
    t.fake.succeed(); // the probe
    await flush();
    t.fake.succeed(); // the operation
    await probe;
    await open(t); // a new outage starts from probeIntervalMs again
    expect(((await outcome(t.guard.run(t.fake.operation))) as { error: StoreDownError }).error.nextProbeAt).toBe(t.now() + 1000);
  });

  it("recovers: false operations never probe nor close, but do open it when they fail", async () => {
    const t = setup();
    const cached = outcome(t.guard.run(t.fake.operation, { recovers: false }));
    t.fake.fail();
    await cached;
    expect(t.guard.isDown()).toBe(true);

    t.advance(5000);
    expect(await outcome(t.guard.run(t.fake.operation, { recovers: false }))).toEqual({ error: expect.any(StoreDownError) });
    expect([t.fake.calls, t.fake.probes]).toEqual([1, 0]);
    const probe = outcome(t.guard.run(t.fake.operation)); // an operation that can tell sends the probe
    t.fake.succeed(); // the probe
    await flush();
    t.fake.succeed();
    await probe;
    expect(t.guard.isDown()).toBe(false);
  });

  it("a RangeError (the caller's mistake) neither opens it nor uses up a probe", async () => {
    const t = setup();
    const bad = outcome(t.guard.run(t.fake.operation));
    t.fake.fail(new RangeError("amountNano: expected a non-negative safe integer"));
    expect(await bad).toEqual({ error: expect.any(RangeError) });
    expect(t.guard.isDown()).toBe(false);

    await open(t);
    t.advance(1000);
    const probed = outcome(t.guard.run(t.fake.operation));
    t.fake.succeed(); // the probe
    await flush();
    t.fake.fail(new RangeError("bad")); // the operation after it: a caller's mistake
    expect(await probed).toEqual({ error: expect.any(RangeError) });
    expect(t.guard.isDown()).toBe(false); // the probe's success stands
  });

  it("a success of an operation begun before the breaker opened doesn't close it", async () => {
    const t = setup();
    const [first, second] = [outcome(t.guard.run(t.fake.operation)), outcome(t.guard.run(t.fake.operation))];
    t.fake.fail(); // the first fails: open
    await first;
    t.fake.succeed(); // the second was sent before that failure: old news
    expect(await second).toEqual({ value: "ok" });
    expect(t.guard.isDown()).toBe(true);
  });

  it("a failure of an operation begun before the last recovery doesn't reopen it", async () => {
    const t = setup();
    const straggler = outcome(t.guard.run(t.fake.operation)); // sent while up; its answer comes last
    const opener = outcome(t.guard.run(t.fake.operation));
    t.fake.fail(undefined, 1);
    await opener;
    t.advance(1000);
    const probe = outcome(t.guard.run(t.fake.operation));
    t.fake.succeed("probe answered", 1);
    await flush();
    t.fake.succeed("back", 1);
    expect(await probe).toEqual({ value: "back" });
    expect(t.guard.isDown()).toBe(false);

    t.fake.fail(); // the straggler times out now: the probe's success is the newer evidence
    expect(await straggler).toEqual({ error: expect.any(Error) });
    expect(t.guard.isDown()).toBe(false);
  });

  it("refuses with no I/O and no wait: 1000 decisions while open never call the store", async () => {
    const t = setup();
    await open(t);
    const refusals = await Promise.all(Array.from({ length: 1000 }, () => outcome(t.guard.run(t.fake.operation))));
    expect(refusals.every((r) => "error" in r && r.error instanceof StoreDownError)).toBe(true);
    expect(t.fake.calls).toBe(1);
  });
});

describeRedis("storeGuard in front of a RedisBudgetStore whose Redis stops", () => {
  let server: RedisServerHandle | undefined;
  beforeAll(async () => {
    server = await startRedisServer();
  }, 30_000);
  afterAll(async () => server?.close());

  it("decides in under 5 ms while Redis is down, and lets calls through again once it is back", async () => {
    const store = new RedisBudgetStore({ url: server!.url, timeoutMs: 300 });
    const guard = storeGuard(store, { probeIntervalMs: 500 });
    const limits = [{ key: "guarded:total", limitNano: 1_000_000 }];
    try {
      await guard.run((s) => s.check(limits));
      await server!.stop();
      await expect(guard.run((s) => s.check(limits))).rejects.toThrow(); // the store's own error opens it
      expect(guard.isDown()).toBe(true);

      let slowest = 0;
      for (let i = 0; i < 100; i++) {
        const started = performance.now();
        const error = await guard.run((s) => s.check(limits)).then(() => undefined, (e: unknown) => e);
        slowest = Math.max(slowest, performance.now() - started);
        expect(error).toBeInstanceOf(StoreDownError);
      }
      // The spec's one timing assertion: a refusal is a decision, not a wait (typically a few µs).
      expect(slowest).toBeLessThan(5);

      await server!.start();
      const until = Date.now() + 15_000;
      let answer: unknown;
      while (Date.now() < until) {
        answer = await guard.run((s) => s.check(limits)).catch((e: unknown) => e);
        if (!(answer instanceof Error)) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(answer).toMatchObject({ states: [{ spentNano: 0, reservedNano: 0 }] });
      expect(guard.isDown()).toBe(false);
    } finally {
      if (!server!.running) await server!.start();
      await store.close();
    }
  }, 30_000);
});
