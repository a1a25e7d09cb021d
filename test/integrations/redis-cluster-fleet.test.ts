/**
 * A fleet on a Redis Cluster: worker PROCESSES (test/support/fleet.ts) with a tenant's and a user's quota
 * (different slots) under a hard cap, on this file's own cluster (3 primaries, 3 replicas; a silent primary is
 * failed over after 1 s), so a primary can be killed and a slot moved mid-run without disturbing the run's
 * shared cluster.
 *
 * What every test checks at the end, quota by quota and call by call (test/support/redis-ledger.ts): spend at
 * or under every quota; the workers' JSONL logs ("the last line per callId counts") sum exactly to each
 * quota's counter; each counter is explained by the calls it settled once plus expired holds' charges; no
 * hold is left.
 */
import { Cluster } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { MeterEntry } from "../../src/index.js";
import { windowAt } from "../../src/budget/windows.js";
import { encoderFor } from "../../src/usage/tokenizer.js";
import { eventually } from "../budget/helpers.js";
import { fleet, FULL_RESERVATION_NANO, PROMPT, serveFleet, steadyFleet, type Worker, type WorkerSettings } from "../support/fleet.js";
import { type FakeOpenAI, startFakeOpenAI } from "../support/openai-server.js";
import { type RedisClusterHandle, startRedisCluster } from "../support/redis-cluster.js";
import { lastLines, readLog, type Reconciliation, reconcile } from "../support/redis-ledger.js";
import { describeRedis, redisUrl, uniqueId } from "../support/redis.js";
import type { WorkerReport } from "./fleet-worker.js";

let server: FakeOpenAI;
let cluster: RedisClusterHandle | undefined;
let admin: Cluster;
let launcher: ReturnType<typeof fleet>;

beforeAll(async () => {
  server = await startFakeOpenAI();
  await encoderFor("gpt-4o-mini");
  if (redisUrl) {
    cluster = await startRedisCluster({ nodeTimeoutMs: 1000 });
    admin = new Cluster(cluster.nodes);
  }
  launcher = fleet(server, () => ({ redisUrl: "", clusterNodes: cluster?.nodes ?? [] }));
}, 60_000);
afterAll(async () => {
  launcher?.close();
  admin?.disconnect();
  await server?.close();
  await cluster?.close();
});

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const monthKey = (scope: string) => `${scope}:${windowAt("month", Date.now()).id}`;

/** Waits until the fake has seen `n` requests in all. */
async function untilRequests(n: number, story: () => string, ms = 30_000): Promise<void> {
  expect(await eventually(() => server.requests.length >= n, ms), `waited for ${n} requests, saw ${server.requests.length}: ${story()}`).toBe(true);
}

/**
 * Reconciles one quota (its key without prefix, e.g. `tenant:acme:2026-12`) with the lines of the calls it
 * counted; checks log == counter call by call and no hold left. Returns the reconciliation.
 */
async function expectQuotaReconciled(
  quotaKey: string,
  lines: MeterEntry[],
  limitNano: number,
  story: (ledger?: Reconciliation) => string,
  /** Under "allow", calls admitted while the store was down are in the log only (documented). */
  { localCalls = false } = {},
) {
  const base = `lcm:{${quotaKey}}`;
  const own = lines.filter((line) => line.quotaKeys.includes(quotaKey));
  const ledger = await reconcile(admin, base, own, (id) => `${base}:ended:${id}`);
  const tell = () => `${quotaKey}: ${story(ledger)}`;
  expect(ledger.mismatches, tell()).toEqual([]);
  expect(ledger.unlanded, tell()).toEqual([]);
  expect(ledger.strangers, tell()).toEqual([]);
  expect(ledger.explained, tell()).toBe(ledger.counter);
  if (!localCalls) expect(ledger.localOnly, tell()).toEqual([]);
  expect(ledger.logged - sum(ledger.localOnly.map((l) => l.costNanoUsd)), tell()).toBe(ledger.counter);
  expect(ledger.counter, tell()).toBeLessThanOrEqual(limitNano);
  expect(await admin.hlen(`${base}:holds`), tell()).toBe(0);
  return ledger;
}

/** What a failing assertion prints: the phases so far, the fake's requests, the quota's ledger, the workers' stderr. */
function storyOf(workers: Worker[], phases: Record<string, unknown>) {
  return (ledger?: Reconciliation) =>
    JSON.stringify({ phases, requests: server.requests.length, ledger: ledger && { ...ledger, traces: undefined }, stderr: workers.map((w) => w.stderr().slice(-2000)) });
}

/** Two users on four workers (w0, w1: A; w2, w3: B), one tenant. */
function users(tenant: string, quotaUsd: { tenant: number; a: number; b: number }) {
  const [a, b] = [uniqueId("ua"), uniqueId("ub")];
  const userOf = (i: number) => (i < 2 ? { id: a, quotaUsd: quotaUsd.a } : { id: b, quotaUsd: quotaUsd.b });
  const keys = { tenant: monthKey(`tenant:${tenant}`), a: monthKey(`user:${a}`), b: monthKey(`user:${b}`) };
  return { userOf, keys };
}

/**
 * Four workers (w0, w1: user A; w2, w3: user B) of a fresh tenant, once every primary has a replica in sync. User
 * A's quota ($0.008, 17 full calls) runs out during the test; the tenant's and B's ($1) aren't spent.
 */
async function startQuotaFleet(label: string, settings: (i: number) => Partial<WorkerSettings>) {
  serveFleet(server);
  await cluster!.untilHealthy({ replicas: true });
  const tenant = uniqueId(label);
  const { userOf, keys } = users(tenant, { tenant: 1, a: 0.008, b: 1 });
  const workers = await launcher.startFleet(
    [0, 1, 2, 3].map((i) => ({ name: `w${i}`, tenant, quotaUsd: 1, user: userOf(i), mode: "model" as const, lanes: 2, prompt: PROMPT, ...settings(i) })),
  );
  return { keys, workers };
}

describeRedis("a fleet of worker processes on a Redis Cluster, with a tenant's and a user's quota in different slots", () => {
  it(
    "4 processes × 3 calls in flight end at or under both quotas, and each quota's counter equals the logs to the nano-dollar",
    async () => {
      serveFleet(server);
      const tenant = uniqueId("acme");
      // User A's quota binds first (13 full calls); then the tenant's (44 in all).
      const limits = { tenant: 0.02, a: 0.006, b: 1 };
      const { userOf, keys } = users(tenant, limits);
      expect(await cluster!.slotOf(`lcm:{${keys.tenant}}`)).not.toBe(await cluster!.slotOf(`lcm:{${keys.a}}`));
      const workers = await launcher.startFleet(steadyFleet((i) => ({ tenant, quotaUsd: limits.tenant, user: userOf(i) })));
      const reports = await Promise.all(workers.map((w) => w.done));
      const lines = workers.flatMap((w) => readLog(w.logPath));
      const story = (ledger?: Reconciliation) => JSON.stringify({ ledger: ledger && { ...ledger, traces: undefined }, reports });
      expect(reports.flatMap((r) => r.errors), story()).toEqual([]);

      const tenantLedger = await expectQuotaReconciled(keys.tenant, lines, 20_000_000, story);
      const aLedger = await expectQuotaReconciled(keys.a, lines, 6_000_000, story);
      const bLedger = await expectQuotaReconciled(keys.b, lines, 1e9, story);
      // Each quota was used up to less than one call's hold where it bound; the users' spend adds up to the tenant's.
      expect(aLedger.counter, story()).toBeGreaterThan(6_000_000 - FULL_RESERVATION_NANO);
      expect(tenantLedger.counter, story()).toBeGreaterThan(20_000_000 - FULL_RESERVATION_NANO);
      expect(aLedger.counter + bLedger.counter, story()).toBe(tenantLedger.counter);
      const billed = [...lastLines(lines).values()].filter((l) => l.decision === "allowed" || l.decision === "clamped");
      expect(billed.length, story()).toBe(server.requests.length);
      expect(sum(reports.map((r) => r.refused)), story()).toBeGreaterThan(0);
    },
    240_000,
  );

  for (const onStoreError of ["deny", "allow"] as const) {
    it(
      `a primary killed mid-run and its replica promoted (onStoreError: "${onStoreError}"): calls in flight end once, the policy decides while the slot has no primary, log == counters`,
      async () => {
        const { keys, workers } = await startQuotaFleet(`failover-${onStoreError}`, (i) => ({
          mode: i % 2 ? "handler" : "model",
          reservationTtlMs: 3000,
          timeoutMs: 1000,
          onStoreError,
          storeTimeoutMs: 500,
          pauseMs: 20,
        }));
        const phases: Record<string, unknown> = {};
        const story = storyOf(workers, phases);
        let reports: WorkerReport[] = [];
        const victim = await cluster!.primaryOf(await cluster!.slotOf(`lcm:{${keys.tenant}}`));
        try {
          await untilRequests(20, story);
          const before = server.requests.length;
          const killedAt = Date.now();
          process.kill(victim.pid!, "SIGKILL");
          await victim.stop();
          await cluster!.untilHealthy();
          phases.failover = { ms: Date.now() - killedAt, requestsDuring: server.requests.length - before };
          expect(await cluster!.primaryOf(await cluster!.slotOf(`lcm:{${keys.tenant}}`)), story()).not.toBe(victim);
          await untilRequests(server.requests.length + 20, story);
          // The old primary comes back, as a replica of the one promoted.
          await victim.start();
          await untilRequests(server.requests.length + 10, story);
          if (onStoreError === "deny") {
            // User A goes on until its quota is spent (it is refused once less than a call is left).
            let spent = 0;
            for (const until = Date.now() + 30_000; spent <= 8_000_000 - FULL_RESERVATION_NANO && Date.now() < until; ) {
              spent = Number((await admin.hget(`lcm:{${keys.a}}`, "spent")) ?? 0);
              await new Promise((resolve) => setTimeout(resolve, 50));
            }
            expect(spent, story()).toBeGreaterThan(8_000_000 - FULL_RESERVATION_NANO);
          }
        } finally {
          for (const w of workers) w.child.send("stop");
          reports = await Promise.all(workers.map((w: Worker) => w.done));
          phases.reports = reports.map(({ name, sent, refused, unavailable, errors, redeliveriesLeft }) => ({ name, sent, refused, unavailable, errors, redeliveriesLeft }));
        }
        expect(reports.flatMap((r) => r.errors), story()).toEqual([]);
        expect(reports.some((r) => r.redeliveriesLeft), story()).toBe(false);
        // The policy decided while the tenant's slot had no primary: refused ("deny"), or let through on
        // local quotas ("allow"): those calls are in the log only, and the user's hold taken before the
        // tenant's slot failed is released, so user A's counter stays within its quota.
        if (onStoreError === "deny") expect(sum(reports.map((r) => r.unavailable)), story()).toBeGreaterThan(0);
        else expect(sum(reports.map((r) => r.unavailable)), story()).toBe(0);

        const lines = workers.flatMap((w) => readLog(w.logPath));
        const localCalls = onStoreError === "allow";
        const tenantLedger = await expectQuotaReconciled(keys.tenant, lines, 1e9, story, { localCalls });
        const aLedger = await expectQuotaReconciled(keys.a, lines, 8_000_000, story, { localCalls });
        // Fail closed, user A's quota was spent (up to one call's hold) and not overspent, failover or not.
        if (!localCalls) expect(aLedger.counter, story(aLedger)).toBeGreaterThan(8_000_000 - FULL_RESERVATION_NANO);
        await expectQuotaReconciled(keys.b, lines, 1e9, story, { localCalls });
        // "allow": some calls went on on local quotas while the slot had no primary (in the log, not in Redis).
        if (localCalls) expect(tenantLedger.localOnly.length, story(tenantLedger)).toBeGreaterThan(0);
        const billed = [...lastLines(lines).values()].filter((l) => l.decision === "allowed" || l.decision === "clamped");
        expect(billed.length, story()).toBe(server.requests.filter((r) => !r.aborted).length);
        console.log(`[cluster fleet, failover, ${onStoreError}] ${JSON.stringify({ counter: tenantLedger.counter, localOnly: tenantLedger.localOnly.length, calls: billed.length, ...phases })}`);
      },
      240_000,
    );
  }

  it(
    "the tenant's slot moved to another primary mid-run (MIGRATING/IMPORTING, keys moved one by one under the workers' calls, which the old owner redirects): log == counters",
    async () => {
      const { keys, workers } = await startQuotaFleet("migrated", () => ({ reservationTtlMs: 30_000, storeTimeoutMs: 5000, pauseMs: 10 }));
      const phases: Record<string, unknown> = {};
      const story = storyOf(workers, phases);
      let reports: WorkerReport[] = [];
      try {
        await untilRequests(40, story);
        const slot = await cluster!.slotOf(`lcm:{${keys.tenant}}`);
        const from = await cluster!.primaryOf(slot);
        // Another primary: the three own slots 0, 6000 and 12,000 between them.
        const owners = new Set(await Promise.all([0, 6000, 12_000].map((s) => cluster!.primaryOf(s))));
        const to = [...owners].find((s) => s !== from)!;
        const before = server.requests.length;
        const redirectsBefore = await cluster!.errorStats(from);
        const moved = await cluster!.migrateSlot(slot, to, { pauseMs: 5 });
        await untilRequests(server.requests.length + 20, story);
        const redirectsAfter = await cluster!.errorStats(from);
        const redirects = Object.fromEntries(["ASK", "TRYAGAIN", "MOVED"].map((kind) => [kind, (redirectsAfter[kind] ?? 0) - (redirectsBefore[kind] ?? 0)]));
        phases.migration = { slot, moved, requestsDuring: server.requests.length - before, redirects };
        expect(await cluster!.primaryOf(slot), story()).toBe(to);
        expect(moved, story()).toBeGreaterThan(5); // the limit's keys and the ended-call markers of its calls
        // The workers met the move: redirected by the old owner (ASK mid-move, MOVED after; TRYAGAIN for a
        // script whose keys were split between the two), and followed it.
        expect(redirects.ASK! + redirects.TRYAGAIN! + redirects.MOVED!, story()).toBeGreaterThan(0);
      } finally {
        for (const w of workers) w.child.send("stop");
        reports = await Promise.all(workers.map((w: Worker) => w.done));
        phases.reports = reports.map(({ name, sent, refused, unavailable, errors }) => ({ name, sent, refused, unavailable, errors }));
      }
      expect(reports.flatMap((r) => r.errors), story()).toEqual([]);
      const lines = workers.flatMap((w) => readLog(w.logPath));
      await expectQuotaReconciled(keys.tenant, lines, 1e9, story);
      const aLedger = await expectQuotaReconciled(keys.a, lines, 8_000_000, story);
      expect(aLedger.counter, story(aLedger)).toBeGreaterThan(8_000_000 - FULL_RESERVATION_NANO); // spent, up to one call's hold
      await expectQuotaReconciled(keys.b, lines, 1e9, story);
      console.log(`[cluster fleet, slot migration] ${JSON.stringify(phases)}`);
    },
    240_000,
  );
});
