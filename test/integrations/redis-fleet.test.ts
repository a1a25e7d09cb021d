/**
 * A fleet: several Node PROCESSES (test/integrations/fleet-worker.ts, forked with `node --import tsx`)
 * spending at once against one tenant's quota in Redis, through MeteredChatModel under a hard cap, all
 * against one loopback fake OpenAI started here. The Redis is this file's own (an fsynced append-only file,
 * so it can be stopped and restarted mid-run; the run's shared server is never touched).
 *
 * What every test checks at the end, call by call (test/support/redis-ledger.ts): all the workers' JSONL
 * logs, read as "the last line per callId counts", sum exactly (nano-USD) to the Redis counter; Redis
 * counted no call twice (settled calls at their logged cost plus expired holds' charges come to the
 * counter exactly); a call whose log ends on "held" (its worker died) was charged its held amount.
 *
 * The workers and what the fake serves them are in test/support/fleet.ts (a full call costs 450,000 nano-USD,
 * its hold is 471,150).
 *
 * Every assertion prints the fleet's story (each worker's tallies, the counter, the log) when it fails.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { BudgetCallbackHandler, type MeterEntry } from "../../src/index.js";
import { RedisBudgetStore } from "../../src/integrations/redis.js";
import { windowAt } from "../../src/budget/windows.js";
import { encoderFor } from "../../src/usage/tokenizer.js";
import { eventually, meteredModel, rejectionOf } from "../budget/helpers.js";
import {
  API_KEY,
  BIG_HOLD_NANO,
  BIG_MAX_TOKENS,
  fleet,
  FULL_CALL_NANO,
  FULL_RESERVATION_NANO,
  MIN_CALL_NANO,
  PROMPT,
  serveFleet,
  steadyFleet,
} from "../support/fleet.js";
import { type FakeOpenAI, startFakeOpenAI } from "../support/openai-server.js";
import { lastLines, readLog, type Reconciliation, reconcile, replayLog } from "../support/redis-ledger.js";
import { type RedisServerHandle, startRedisServer } from "../support/redis-server.js";
import { describeRedis, redisUrl, uniqueId } from "../support/redis.js";

let server: FakeOpenAI;
let redis: RedisServerHandle | undefined;
let store: RedisBudgetStore;
let launcher: ReturnType<typeof fleet>;
const resetServer = () => serveFleet(server);
const startWorker: ReturnType<typeof fleet>["startWorker"] = (config) => launcher.startWorker(config);
const startFleet: ReturnType<typeof fleet>["startFleet"] = (configs) => launcher.startFleet(configs);

beforeAll(async () => {
  server = await startFakeOpenAI();
  await encoderFor("gpt-4o-mini"); // load the tokenizer now: it takes seconds, longer than a short hold lives
  if (redisUrl) {
    redis = await startRedisServer({ persistent: true });
    store = new RedisBudgetStore({ url: redis.url });
  }
  launcher = fleet(server, () => ({ redisUrl: redis?.url ?? "" }));
}, 60_000);
afterAll(async () => {
  launcher?.close();
  await store?.close();
  await server?.close();
  await redis?.close();
});

/** Redis' own clock in ms, as the scripts read it (`TIME`): exact, where `store.now()` estimates it. */
async function redisTime(): Promise<number> {
  const [seconds, micros] = await store.client.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

/** The tenant's counter key in Redis (prefix included) for a "month" window. */
async function monthKey(tenant: string): Promise<string> {
  return `lcm:tenant:${tenant}:${windowAt("month", await store.now()).id}`;
}

/** Waits until the fake has seen `n` requests in all; fails with the story if it doesn't. */
async function untilRequests(n: number, story: () => string, ms = 30_000): Promise<void> {
  expect(await eventually(() => server.requests.length >= n, ms), `waited for ${n} requests, saw ${server.requests.length}: ${story()}`).toBe(true);
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : Number.NaN;
};

/** The checks every fleet ends with: log == counter, call by call. Returns the reconciliation. */
async function expectReconciled(
  key: string,
  lines: MeterEntry[],
  story: (ledger?: Reconciliation) => string,
  /** "held" lines of a killed worker, whose holds may never have reached Redis. */
  killed: MeterEntry[] = [],
): Promise<Reconciliation> {
  const ledger = await reconcile(store.client, key, lines);
  expect(ledger.mismatches, story(ledger)).toEqual([]);
  expect(ledger.unlanded.filter((line) => !killed.some((k) => k.callId === line.callId)), story(ledger)).toEqual([]);
  expect(ledger.strangers, story(ledger)).toEqual([]);
  // Redis counted each call once: its settled calls at their logged cost, plus the charges of expired holds,
  // come to the counter exactly (a call counted twice would leave the counter above them).
  expect(ledger.explained, story(ledger)).toBe(ledger.counter);
  // No call was settled twice in the log either.
  const billed = new Map<string, number>();
  for (const line of lines) if (["allowed", "clamped", "exceeded"].includes(line.decision)) billed.set(line.callId, (billed.get(line.callId) ?? 0) + 1);
  expect([...billed.values()].filter((n) => n > 1), story(ledger)).toEqual([]);
  return ledger;
}

describeRedis("a fleet of worker processes sharing one tenant quota in Redis", () => {
  it(
    "4 processes × 3 calls in flight end at or under the quota, and their JSONL logs sum to the Redis counter to the nano-dollar",
    async () => {
      resetServer();
      const tenant = uniqueId("acme");
      const quotaUsd = 0.02; // 20,000,000 nano: 44 full calls at most
      const workers = await startFleet(steadyFleet(() => ({ tenant, quotaUsd })));
      const reports = await Promise.all(workers.map((w) => w.done));

      const key = await monthKey(tenant);
      const lines = workers.flatMap((w) => readLog(w.logPath));
      const last = [...lastLines(lines).values()];
      const billed = last.filter((l) => l.decision === "allowed" || l.decision === "clamped");
      const story = (ledger?: Reconciliation) =>
        JSON.stringify({ ledger: ledger && { ...ledger, traces: undefined }, requests: server.requests.length, reports, decisions: lines.map((l) => `${l.decision}:${l.costNanoUsd}`) });

      expect(reports.flatMap((r) => r.errors), story()).toEqual([]);
      const ledger = await expectReconciled(key, lines, story);
      // At or under the quota, and used up to less than one full call's hold.
      expect(ledger.counter, story(ledger)).toBeLessThanOrEqual(20_000_000);
      expect(ledger.counter, story(ledger)).toBeGreaterThan(20_000_000 - FULL_RESERVATION_NANO);
      // The logs and the store agree to the nano-dollar; every request sent was priced and logged once.
      expect(ledger.logged, story(ledger)).toBe(ledger.counter);
      expect(ledger.localOnly, story(ledger)).toEqual([]);
      expect(billed.length, story(ledger)).toBe(server.requests.length);
      expect(sum(reports.map((r) => r.sent)), story(ledger)).toBe(billed.length);
      expect(sum(reports.map((r) => r.exceeded)), story(ledger)).toBe(0);
      expect(lines.every((l) => l.quotaKeys.length === 1 && `lcm:${l.quotaKeys[0]}` === key), story(ledger)).toBe(true);
      // Each call ended billed (allowed, or clamped to the room left), or at $0 (refused after its hold was).
      expect(last.every((l) => ["allowed", "clamped", "refused", "released"].includes(l.decision)), story(ledger)).toBe(true);
      expect(billed.filter((l) => l.decision === "allowed").every((l) => l.costNanoUsd === FULL_CALL_NANO), story(ledger)).toBe(true);
      // Every worker took part, and the fleet was refused once the quota was spent, not before: a call that
      // didn't fit beside other calls' holds waited for them instead (holds end far below their worst case).
      expect(reports.every((r) => r.sent > 0), story(ledger)).toBe(true);
      expect(sum(reports.map((r) => r.refused)), story(ledger)).toBeGreaterThan(0);
      expect(Math.min(...reports.flatMap((r) => r.refusedAtSpentUsd)) * 1e9, story(ledger)).toBeGreaterThan(20_000_000 - MIN_CALL_NANO);
      // No hold is left behind, none expired.
      expect(await store.client.hlen(`${key}:holds`), story(ledger)).toBe(0);
      expect(await store.client.hlen(`${key}:expired`), story(ledger)).toBe(0);
      for (const w of workers) expect(readFileSync(w.logPath, "utf8")).not.toContain(API_KEY);
      console.log(`[fleet, steady] ${JSON.stringify({ counter: ledger.counter, calls: billed.length, outcomes: ledger.outcomes, reports: reports.map(({ name, sent, refused, refusals }) => ({ name, sent, refused, refusals })) })}`);
    },
    240_000,
  );

  it(
    "20 concurrent runs whose worst case is $0.49 each, under a $1 quota: they wait for each other's holds, and are refused only once the quota is spent",
    async () => {
      // 0.1.0 refused a hard-capped call that didn't fit beside other holds at once: here, 2 of 20 runs held
      // and ~17 were refused with $0 of the $1 spent. Now such a call waits (holdWaitMs), polling Redis, for
      // holds to end. Each run's call really costs $0.06: 16 fit in full, then one is clamped to what is left.
      const run = async (holdWaitMs: number) => {
        resetServer();
        const tenant = uniqueId("unspent");
        const workers = await startFleet(
          [0, 1, 2, 3].map((i) => ({
            name: `w${i}`,
            tenant,
            quotaUsd: 1,
            mode: "model" as const,
            lanes: 5,
            maxCalls: 5, // 5 runs of one call each per worker: 20 runs, all started at once
            prompt: PROMPT,
            maxTokens: BIG_MAX_TOKENS,
            holdWaitMs,
          })),
        );
        const reports = await Promise.all(workers.map((w) => w.done));
        const key = await monthKey(tenant);
        const lines = workers.flatMap((w) => readLog(w.logPath));
        const last = [...lastLines(lines).values()];
        const story = (ledger?: Reconciliation) => JSON.stringify({ holdWaitMs, ledger: ledger && { ...ledger, traces: undefined }, reports });
        expect(reports.flatMap((r) => r.errors), story()).toEqual([]);
        const ledger = await expectReconciled(key, lines, story);
        expect(ledger.logged, story(ledger)).toBe(ledger.counter);
        const refusedAt = reports.flatMap((r) => r.refusedAtSpentUsd);
        return {
          completed: sum(reports.map((r) => r.sent)),
          full: last.filter((l) => l.decision === "allowed").length,
          clamped: last.filter((l) => l.decision === "clamped").length,
          refused: refusedAt.length,
          spentUsd: ledger.counter / 1e9,
          refusedAtSpentUsd: refusedAt.length ? [Math.min(...refusedAt), Math.max(...refusedAt)] : [],
          heldLines: lines.filter((l) => l.decision === "held").length,
          // The max tokens each request was sent with (816,000 asked for; fewer when clamped to the room left).
          maxTokensSent: server.requests.map((r) => Number(r.body.max_tokens)).sort((a, b) => b - a),
          story: story(ledger),
        };
      };

      const before = await run(0); // as 0.1.0 did: no waiting
      const now = await run(30_000);
      console.log(`[fleet, $1 quota, 20 runs of worst case $${BIG_HOLD_NANO / 1e9}] ${JSON.stringify({ holdWaitMs0: { ...before, story: undefined }, holdWaitMs30s: { ...now, story: undefined } })}`);

      // Without waiting, runs are refused with most of the money unspent. How many depends on how closely the
      // 4 processes start: 9 to 17 of 20 on a quiet machine, as few as 4 on a loaded one (CI, 2026-12-01): what
      // is asserted is that it happens, and that waiting does better.
      expect(before.refused, before.story).toBeGreaterThanOrEqual(1);
      expect(before.refusedAtSpentUsd[0], before.story).toBeLessThan(0.5);
      expect(now.completed, now.story).toBeGreaterThan(before.completed);
      // Now: most runs complete, and every refusal came once the quota was really spent (less than a minimal
      // call left), not while holds were in the way.
      expect(now.completed, now.story).toBeGreaterThanOrEqual(16);
      expect(now.completed + now.refused, now.story).toBe(20);
      expect(now.spentUsd, now.story).toBeLessThanOrEqual(1);
      // (Whether any is refused depends on how many were clamped beside others' holds, and so answered short.)
      if (now.refused > 0) expect(now.spentUsd * 1e9, now.story).toBeGreaterThan(1e9 - MIN_CALL_NANO);
      for (const spent of now.refusedAtSpentUsd) expect(spent * 1e9, now.story).toBeGreaterThan(1e9 - MIN_CALL_NANO);
    },
    240_000,
  );

  it(
    "a worker SIGKILLed mid-call: its hold blocks the tenant until its TTL, then is charged at the held amount, as its log's last line says",
    async () => {
      resetServer();
      const tenant = uniqueId("crash");
      const quota = [{ key: "tenant:{tenant_id}", limitUsd: 0.0002, window: "month" as const }];
      const key = await monthKey(tenant);
      const worker = startWorker({
        name: "doomed",
        tenant,
        quotaUsd: 0.0002,
        mode: "model",
        lanes: 1,
        maxCalls: 1,
        prompt: "SLOW hi",
        // The model refuses a hold that could expire while its own request is still running: TTL > timeout.
        reservationTtlMs: 1500,
        timeoutMs: 1000,
      });
      await worker.ready;
      worker.child.send("go");
      // The hold is made before the request is sent: once the server has it, the quota is all held.
      expect(await eventually(() => server.requests.length === 1, 20_000)).toBe(true);
      const [holdId] = await store.client.hkeys(`${key}:holds`);
      const held = Number(await store.client.hget(`${key}:holds`, holdId ?? ""));
      expect(held).toBeGreaterThan(190_000); // clamped to what $0.0002 pays for
      expect(held).toBeLessThanOrEqual(200_000);
      const expiresAt = Number(await store.client.zscore(`${key}:exp`, holdId ?? "")); // Redis' clock
      expect(expiresAt - (await redisTime())).toBeLessThanOrEqual(1500);

      worker.child.kill("SIGKILL");
      await worker.exited;

      const probe = meteredModel(server, { maxTokens: 500 });
      const budget = () => new BudgetCallbackHandler({ hardCap: true, quotas: quota, store, holdWaitMs: 200 });
      // While the dead worker's hold lives it is held money: the probe waits for it (200 ms here), then is
      // refused, naming the tenant and what is held.
      const refused = await rejectionOf(probe.invoke("hi", { callbacks: [budget()], metadata: { tenant_id: tenant } }));
      expect(refused).toMatchObject({ scope: `tenant:${tenant}`, stop: "refused", spentUsd: 0, heldUsd: held / 1e9 });
      expect(server.requests).toHaveLength(1);
      expect(await eventually(() => server.requests[0]?.aborted === true, 5000)).toBe(true);

      // Nothing settles or releases the dead worker's hold; its TTL ends it, and Redis charges it then.
      let charged = false;
      for (const until = Date.now() + 8000; !charged && Date.now() < until; ) {
        const [state] = (await store.check([{ key: key.slice(4), limitNano: 200_000 }])).states;
        charged = state?.reservedNano === 0;
        if (!charged) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(charged).toBe(true);
      expect(await redisTime()).toBeGreaterThanOrEqual(expiresAt); // by its expiry, not before

      // 0.1.0 freed the quota here as if the dead call had cost nothing, and the probe went through. The
      // hold is now charged at its full amount (what the provider may have billed for the request it was
      // sent): the tenant has less left than a short call needs, so the probe is refused, as spent.
      expect(Number(await store.client.hget(key, "spent"))).toBe(held);
      const lines = readLog(worker.logPath);
      expect(lines.map((l) => [l.decision, l.costNanoUsd])).toEqual([["held", held]]);
      const ledger = await expectReconciled(key, lines, (l) => JSON.stringify({ l, lines }));
      expect([ledger.logged, ledger.counter]).toEqual([held, held]);
      const spent = await rejectionOf(probe.invoke("hi", { callbacks: [budget()], metadata: { tenant_id: tenant } }));
      expect(spent).toMatchObject({ scope: `tenant:${tenant}`, stop: "refused", spentUsd: held / 1e9, heldUsd: 0 });
      expect((spent as Error).message).toContain("is spent");
      expect(server.requests).toHaveLength(1);
    },
    60_000,
  );

  it(
    "a worker killed while a call's settle waits for Redis to be back: Redis charges that hold at its worst case; replaying the dead worker's log corrects it",
    async () => {
      // The double fault the redelivery of call ends can't cover: the log has the call's cost (written ahead
      // of the store), the settle never reached Redis, and the process that would have redelivered it died.
      resetServer();
      // The provider answers only after Redis went down (its data, the call's hold included, is kept).
      server.setDefault(async () => {
        await redis!.stop();
        return { usage: { promptTokens: 1000, completionTokens: 500 }, content: "paid for" };
      });
      const tenant = uniqueId("undelivered");
      const key = await monthKey(tenant);
      const worker = startWorker({
        name: "doomed",
        tenant,
        quotaUsd: 1,
        mode: "model",
        lanes: 1,
        maxCalls: 1,
        prompt: PROMPT,
        reservationTtlMs: 1500,
        timeoutMs: 1000,
        storeTimeoutMs: 300,
      });
      try {
        await worker.ready;
        worker.child.send("go");
        // Its log has the call's cost once the call is over; its settle failed (Redis is down).
        expect(await eventually(() => readLog(worker.logPath).some((l) => l.decision === "allowed"), 20_000)).toBe(true);
        worker.child.kill("SIGKILL");
        await worker.exited;
      } finally {
        await redis!.start();
      }
      const lines = readLog(worker.logPath);
      expect(lines.map((l) => [l.decision, l.costNanoUsd])).toEqual([["held", FULL_RESERVATION_NANO], ["allowed", FULL_CALL_NANO]]);

      // Nothing ends the hold in Redis: once its TTL is over it is charged at its worst case.
      for (const until = Date.now() + 10_000; Date.now() < until; ) {
        if ((await store.check([{ key: key.slice(4), limitNano: 1e9 }])).states[0]?.reservedNano === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const before = await reconcile(store.client, key, lines);
      expect([before.counter, before.logged]).toEqual([FULL_RESERVATION_NANO, FULL_CALL_NANO]);
      expect(before.mismatches).toHaveLength(1);

      // The recovery: replay the dead worker's log. Redis replaces the charge with the call's cost.
      expect(await replayLog(store, lines)).toEqual([lines[0]!.callId]);
      expect(await replayLog(store, lines)).toEqual([lines[0]!.callId]); // and a second replay counts nothing
      const after = await expectReconciled(key, lines, (l) => JSON.stringify({ l, lines }));
      expect([after.counter, after.logged]).toEqual([FULL_CALL_NANO, FULL_CALL_NANO]);
    },
    60_000,
  );

  for (const onStoreError of ["deny", "allow"] as const) {
    it(
      `4 processes while Redis is frozen (SIGSTOP), stopped and restarted${onStoreError === "deny" ? ", and one worker is SIGKILLed mid-call" : ""} (onStoreError: "${onStoreError}"): nothing counted twice, log == counter`,
      async () => {
        resetServer();
        const tenant = uniqueId(`faults-${onStoreError}`);
        const key = await monthKey(tenant);
        const ttl = 1500;
        const workers = await startFleet(
          (["model", "handler", "model", "model"] as const).map((mode, i) => ({
            name: `w${i}`,
            tenant,
            quotaUsd: 1, // not spent in this test: it is about faults
            mode,
            lanes: 2,
            prompt: PROMPT,
            // Short-lived holds (a dead worker's is charged 1.5 s after it was made), above the request timeout.
            reservationTtlMs: ttl,
            timeoutMs: 1000,
            onStoreError,
            storeTimeoutMs: 1000,
            pauseMs: 20,
          })),
        );
        const phases: Record<string, unknown> = {};
        const story = (ledger?: Reconciliation) =>
          JSON.stringify({
            phases,
            requests: server.requests.length,
            ledger: ledger && { ...ledger, traces: undefined, localOnly: ledger.localOnly.length },
            stderr: workers.map((w) => w.stderr().slice(-2000)),
          });
        const during = async (name: string, ms: number) => {
          const from = server.requests.length;
          await new Promise((resolve) => setTimeout(resolve, ms));
          phases[name] = { requestsDuring: server.requests.length - from };
        };
        try {
          await untilRequests(20, story);

          // Frozen for 2 s: longer than the store's timeout (1 s) and than a hold lives (1.5 s).
          process.kill(redis!.pid!, "SIGSTOP");
          try {
            await during("frozen", 2000);
          } finally {
            process.kill(redis!.pid!, "SIGCONT");
          }
          await untilRequests(server.requests.length + 20, story);

          // Stopped for 2 s, then restarted on the same port with its data (fsynced AOF).
          await redis!.stop();
          try {
            await during("stopped", 2000);
          } finally {
            await redis!.start();
          }
          await untilRequests(server.requests.length + 20, story);

          let dead: MeterEntry[] = [];
          const landed: MeterEntry[] = [];
          if (onStoreError === "deny") {
            // w3 starts a call that the fake answers after 10 s, and is killed once the request is in flight.
            // First it has delivered every end of a call that waited for Redis to be back (a worker killed
            // with some undelivered is the next test's).
            const doomed = workers[3]!;
            const drained = new Promise((resolve) => doomed.child.on("message", (m: { type?: string }) => m?.type === "drained" && resolve(m)));
            doomed.child.send("drain");
            await drained;
            doomed.child.send("slow");
            expect(await eventually(() => server.requests.some((r) => String(r.body.messages?.[0]?.content) === "SLOW"), 20_000), story()).toBe(true);
            doomed.child.kill("SIGKILL");
            const killedAt = await redisTime();
            await doomed.exited;
            dead = [...lastLines(readLog(doomed.logPath)).values()].filter((l) => l.decision === "held");
            phases.killed = { held: dead.map((l) => l.costNanoUsd) };
            expect(dead.length, story()).toBeGreaterThanOrEqual(1);
            // Held, not yet charged: it is charged once its TTL is over (Redis' clock). A line whose hold Redis
            // never took is the worker killed between writing it and Redis taking the hold (the log goes first);
            // such a call was never sent. The slow call's hold landed: the fake received its request.
            for (const line of dead) {
              const held = await store.client.hget(`${key}:holds`, line.callId);
              if (held === null) continue;
              landed.push(line);
              expect(Number(held), story()).toBe(line.costNanoUsd);
              expect(Number(await store.client.zscore(`${key}:exp`, line.callId)) - killedAt, story()).toBeLessThanOrEqual(ttl);
            }
            expect(landed.length, story()).toBeGreaterThanOrEqual(1);
            await untilRequests(server.requests.length + 10, story);
          }

          for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.send("stop");
          const reports = await Promise.all(workers.filter((w) => w.name !== "w3" || onStoreError === "allow").map((w) => w.done));
          phases.reports = reports.map(({ name, sent, refused, unavailable, unavailableMs, errors, redeliveriesLeft }) => ({
            name,
            sent,
            refused,
            unavailable,
            unavailableMsMedian: median(unavailableMs),
            unavailableMsMax: Math.max(0, ...unavailableMs),
            redeliveriesLeft,
            errors: errors.slice(0, 5),
          }));
          // The dead worker's holds are charged once their TTL is over: bring the counter up to now.
          if (landed.length) {
            const allCharged = async () => (await Promise.all(landed.map((l) => store.client.hexists(`${key}:expired`, l.callId)))).every(Boolean);
            for (const until = Date.now() + 10_000; Date.now() < until; ) {
              await store.check([{ key: key.slice(4), limitNano: 1e9 }]); // Redis charges the expired holds
              if (await allCharged()) break;
              await new Promise((resolve) => setTimeout(resolve, 100));
            }
          }

          if (onStoreError === "deny") {
            // The recovery for a killed worker (README): replay its log. Its other lanes ran on while it was
            // killed, so a call may have been logged as billed with its settle still on its way to Redis; the
            // replay settles it (and changes nothing for calls Redis had settled).
            phases.replayedLines = (await replayLog(store, readLog(workers[3]!.logPath))).length;
          }
          const lines = workers.flatMap((w) => readLog(w.logPath));
          const ledger = await expectReconciled(key, lines, story, dead);
          expect(reports.flatMap((r) => r.errors), story(ledger)).toEqual([]);
          expect(reports.some((r) => r.redeliveriesLeft), story(ledger)).toBe(false);
          expect(ledger.counter, story(ledger)).toBeGreaterThan(0);
          // The dead worker's calls: each ends on its "held" line, and Redis charged exactly that.
          for (const line of landed) expect(ledger.traces.get(line.callId), story(ledger)).toEqual({ marker: null, expired: line.costNanoUsd, held: undefined });
          const local = sum(ledger.localOnly.map((l) => l.costNanoUsd));
          if (onStoreError === "deny") {
            // Fail closed: calls were refused while Redis was down, fast once the breaker had opened (the
            // first call to meet the outage waits out the store's 1 s timeout; so does one probe a second).
            const refusals = reports.flatMap((r) => r.unavailableMs);
            expect(refusals.length, story(ledger)).toBeGreaterThan(0);
            expect(median(refusals), story(ledger)).toBeLessThan(100);
            expect(Math.max(...refusals), story(ledger)).toBeLessThan(1000 + 2000);
            // The log and the counter agree to the nano-dollar, but for holds the killed worker logged and
            // Redis never took (the log is ahead of the store there, by what those calls could have cost).
            expect(ledger.localOnly, story(ledger)).toEqual([]);
            expect(ledger.logged - sum(ledger.unlanded.map((l) => l.costNanoUsd)), story(ledger)).toBe(ledger.counter);
          } else {
            // "allow": calls went on while Redis was down, metered in this process. A call that never reached
            // Redis (admitted while its breaker was open) is in the log only: the log is the counter plus
            // exactly those calls, which Redis has no trace of (no settled marker, no hold, no charge). A call
            // that did reach Redis (its hold, or its settle) is counted there once.
            expect(sum(reports.map((r) => r.unavailable)), story(ledger)).toBe(0);
            expect((phases.stopped as { requestsDuring: number }).requestsDuring, story(ledger)).toBeGreaterThan(0);
            expect(ledger.logged - local, story(ledger)).toBe(ledger.counter);
          }
          console.log(
            `[fleet, faults, ${onStoreError}] ${JSON.stringify({
              counter: ledger.counter,
              logged: ledger.logged,
              localOnlyCalls: ledger.localOnly.length,
              localOnlyNano: local,
              outcomes: ledger.outcomes,
              phases,
            })}`,
          );
        } finally {
          if (!redis!.running) await redis!.start();
        }
      },
      240_000,
    );
  }
});
