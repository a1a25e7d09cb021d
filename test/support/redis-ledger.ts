/**
 * Reconciling a metering log with a quota counter in Redis, call by call, for the Redis suites.
 *
 * The log's rule (see `MeterEntry`): per `callId` the LAST line counts. A hard-capped call held in the store
 * writes a "held" line (its worst case) before the hold and its outcome after it; a call that dies mid-call
 * ends on "held", which is what Redis charges once the hold expires; a call that was not billed ends on a
 * "released" (or "refused") line of $0.
 *
 * Redis' side of each call id, read from the store's own keys (src/integrations/redis-scripts.ts):
 * `<prefix>settled:<id>` ("settled" or "released", set when the call ended there), `K:expired` (the amount of
 * a hold that expired and was charged) and `K:holds` (a hold still live). Redis keeps no amount per settled
 * call, so a settled call is counted at its log line's cost: if any call had been counted twice in Redis,
 * or a charge were missing from the log, the sum of the calls would not come to the counter.
 */
import { readFileSync } from "node:fs";
import type { Cluster, Redis } from "ioredis";
import type { MeterEntry } from "../../src/budget/meter-sink.js";
import type { BudgetStore } from "../../src/budget/store.js";

const BILLED = new Set(["allowed", "clamped", "exceeded"]);

/** The lines of a JSON Lines metering log (none for a file never written). */
export function readLog(path: string): MeterEntry[] {
  let text = "";
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as MeterEntry);
}

/** The line that counts for each call id: its last. */
export function lastLines(lines: readonly MeterEntry[]): Map<string, MeterEntry> {
  const last = new Map<string, MeterEntry>();
  for (const line of lines) last.set(line.callId, line);
  return last;
}

/** What the log says was spent: the sum of each call's last line (held lines count their worst case). */
export function loggedNano(lines: readonly MeterEntry[]): number {
  let sum = 0;
  for (const line of lastLines(lines).values()) sum += line.costNanoUsd;
  return sum;
}

/** Redis' side of one call id. */
export interface RedisTrace {
  /** `settled` / `released` when the call ended in Redis, else null. */
  marker: string | null;
  /** The amount charged for its expired hold, if it expired and was not ended since. */
  expired: number | undefined;
  /** Its live hold, if any. */
  held: number | undefined;
}

export interface Reconciliation {
  /** `HGET K spent`. */
  counter: number;
  /** The sum of the last lines. */
  logged: number;
  /** What Redis' traces explain of the counter: settled calls at their logged cost, plus expired charges. */
  explained: number;
  /** Calls Redis has no trace of (or only a release), with a billed last line: metered only by this process (`onStoreError: "allow"`). */
  localOnly: MeterEntry[];
  /**
   * Calls Redis has no trace of, with a last line "held": the log is written ahead of the store, so a worker
   * killed between its "held" line and Redis taking the hold leaves one (never sent: a call waits for its hold).
   */
  unlanded: MeterEntry[];
  /** One message per call whose log and Redis disagree (empty when they agree). */
  mismatches: string[];
  /** Expired charges in Redis of call ids no log has. */
  strangers: string[];
  /** How many calls ended each way, by their last line. */
  outcomes: Record<string, number>;
  traces: Map<string, RedisTrace>;
}

/**
 * Reconciles `lines` (every worker's log, concatenated) with the counter `key` (the full Redis key, prefix
 * included) and the call markers (`markerOf(callId)`: `lcm:settled:<id>` on one Redis; `<key>:ended:<id>` per limit on a cluster). Checks every call:
 * - a billed last line: Redis settled it (marker "settled"), or has no trace of it but a release (a call
 *   metered locally while the store was down, under "allow": listed in `localOnly`);
 * - a last line "held": Redis charged its expired hold at exactly that amount (or still holds it, if it has
 *   not expired yet), or never took it (listed in `unlanded`);
 * - a last line "released" / "refused": Redis holds and charges nothing for it.
 */
export async function reconcile(
  redis: Redis | Cluster,
  key: string,
  lines: readonly MeterEntry[],
  markerOf: (callId: string) => string = (id) => `lcm:settled:${id}`,
): Promise<Reconciliation> {
  const last = lastLines(lines);
  const ids = [...last.keys()];
  const counter = Number((await redis.hget(key, "spent")) ?? 0);
  const expiredAll = await redis.hgetall(`${key}:expired`);
  const holdsAll = await redis.hgetall(`${key}:holds`);
  // One GET each: on a cluster the markers are spread over slots (MGET can't span them).
  const markers = await Promise.all(ids.map((id) => redis.get(markerOf(id))));
  const traces = new Map<string, RedisTrace>();
  const mismatches: string[] = [];
  const localOnly: MeterEntry[] = [];
  const unlanded: MeterEntry[] = [];
  const outcomes: Record<string, number> = {};
  let explained = 0;
  ids.forEach((id, i) => {
    const line = last.get(id)!;
    const trace: RedisTrace = {
      marker: markers[i] ?? null,
      expired: expiredAll[id] === undefined ? undefined : Number(expiredAll[id]),
      held: holdsAll[id] === undefined ? undefined : Number(holdsAll[id]),
    };
    traces.set(id, trace);
    outcomes[line.decision] = (outcomes[line.decision] ?? 0) + 1;
    const none = trace.marker === null && trace.expired === undefined && trace.held === undefined;
    const say = (what: string) => mismatches.push(`${id}: last line ${line.decision} $${line.costNanoUsd} nano, but ${what} (Redis: ${JSON.stringify(trace)})`);
    if (trace.marker === "settled") explained += line.costNanoUsd;
    if (trace.expired !== undefined) explained += trace.expired;
    // A call this process's own view took while the store was down ("allow") ends there; whatever hold its
    // reserve may have left in Redis is released.
    const releasedOnly = trace.marker === "released" && trace.expired === undefined && trace.held === undefined;
    if (BILLED.has(line.decision)) {
      if (none || releasedOnly) localOnly.push(line);
      else if (trace.marker !== "settled" || trace.expired !== undefined || trace.held !== undefined) say("Redis did not settle it");
    } else if (line.decision === "held") {
      const amount = trace.expired ?? trace.held;
      if (none) unlanded.push(line);
      else if (trace.marker !== null || amount !== line.costNanoUsd) say("Redis did not charge its hold at that amount");
    } else if (trace.marker === "settled" || trace.expired !== undefined || trace.held !== undefined) {
      say("Redis still counts or holds something for it");
    }
  });
  const strangers = Object.keys(expiredAll).filter((id) => !last.has(id));
  for (const id of strangers) explained += Number(expiredAll[id]);
  return { counter, logged: loggedNano(lines), explained, localOnly, unlanded, mismatches, strangers, outcomes, traces };
}

/**
 * The recovery for a worker that died while ends of its calls were still waiting to reach Redis (written to
 * its log ahead of the store, never delivered): replays its log into Redis. Each call whose last line is
 * billed but that Redis did not settle is settled at its logged cost (Redis then replaces the charge of its
 * expired hold with it; settles count once per call id, so replaying a call Redis has settled changes
 * nothing); each call whose last line is "released" is released. Must run while Redis still remembers the
 * charges (`settledTtlMs`, 24 h by default). Returns the call ids replayed.
 */
export async function replayLog(store: BudgetStore, lines: readonly MeterEntry[]): Promise<string[]> {
  const replayed: string[] = [];
  for (const line of lastLines(lines).values()) {
    // The keys as the log has them (window included); limits don't change what a settle counts.
    const limits = line.quotaKeys.map((key) => ({ key, limitNano: Number.MAX_SAFE_INTEGER }));
    if (!limits.length) continue;
    if (BILLED.has(line.decision)) await store.settle(line.callId, limits, line.costNanoUsd);
    else if (line.decision === "released") await store.release(line.callId, limits);
    else continue;
    replayed.push(line.callId);
  }
  return replayed;
}
