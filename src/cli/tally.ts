import type { MeterEntry } from "../budget/meter-sink.js";

/**
 * Sums a metering log by group, in integer nano-USD, counting per `callId` only the last line.
 *
 * The dedup, and its memory bound: the library writes, per call, zero or more `"held"` lines (its worst case,
 * once per amount) and then at most one outcome line (`allowed`, `clamped`, `exceeded`, `refused` or
 * `released`). So a call needs remembering only while its last line seen is `"held"`: such a line is parked
 * in `pending` (a later `"held"` line replaces it), an outcome line drops the call's parked line and is counted
 * at once, and what is still parked at the end of the input (a worker that died mid-call, or a call still in
 * flight when the log was read) is counted at its held amount. Memory is O(groups + parked calls), where parked
 * calls are the hard-capped calls in flight at any point of the log plus those that never ended: never
 * O(lines) or O(calls). A log with two outcome lines for one call id (which this library never writes) would
 * count both.
 *
 * Groups, filters and buckets come from the line that counts: its `time` (`since` inclusive, `until`
 * exclusive), its model, its quota keys.
 */

/** Built-in dimensions; any other name is a quota key's name (`tenant` for `tenant:acme:month:2026-11`). */
export const BUILTIN_DIMENSIONS = ["model", "provider", "day", "month", "decision"] as const;
/** What a group shows for a dimension the line has no value for. */
export const NONE = "(none)";

/** Exact nano-USD sum: a Number part (exact while below 2^52) flushed into a BigInt part. */
export class NanoSum {
  private small = 0;
  private big = 0n;
  /** Adds a safe integer. */
  add(nano: number): void {
    if (nano > Number.MAX_SAFE_INTEGER - this.small) {
      this.big += BigInt(this.small);
      this.small = 0;
    }
    this.small += nano;
  }
  addBig(nano: bigint): void {
    this.big += nano;
  }
  get value(): bigint {
    return this.big + BigInt(this.small);
  }
}

export interface GroupTotals {
  /** The group's value per dimension, in `by` order. */
  values: string[];
  calls: number;
  /** Calls whose last line is "held": counted at their worst case (a dead worker's, or still in flight). */
  heldCalls: number;
  inputTokens: number;
  outputTokens: number;
  cost: NanoSum;
}

export interface TallyOptions {
  by: readonly string[];
  /** ISO time (UTC, `toISOString()` form), inclusive. */
  since?: string;
  /** ISO time (UTC, `toISOString()` form), exclusive. */
  until?: string;
  /** Keep spend per group over time (for the HTML chart), in hour, day or month buckets. */
  series?: boolean;
}

/** The fields of a line the report reads, checked. */
type Line = Pick<MeterEntry, "callId" | "time" | "model" | "provider" | "quotaKeys" | "costNanoUsd" | "decision"> & {
  usage?: { inputTokens?: number; outputTokens?: number };
};

const ISO_Z = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
/** A quota counter's window suffix (src/budget/windows.ts): `total`, `day:2026-11-28`, `week:2026-11-23`, `month:2026-11`. */
const WINDOW_SUFFIX = /:(?:total|(?:day|week):\d{4}-\d\d-\d\d|month:\d{4}-\d\d)$/;
/** Buckets of the spend-over-time series, finest first: the prefix length of an ISO time. */
const BUCKETS = [
  { unit: "hour", length: 13, max: 24 * 3 },
  { unit: "day", length: 10, max: 366 * 2 },
  { unit: "month", length: 7, max: Infinity },
] as const;
const MEMO_MAX = 50_000;

export interface Problem {
  file: string;
  line: number;
  reason: string;
}

export class Tally {
  readonly groups = new Map<string, GroupTotals>();
  readonly models = new Map<string, NanoSum>();
  /** Spend per `tenant:` quota key value, whatever `by` is (for the HTML report). */
  readonly tenants = new Map<string, NanoSum>();
  readonly total: GroupTotals = { values: [], calls: 0, heldCalls: 0, inputTokens: 0, outputTokens: 0, cost: new NanoSum() };
  lines = 0;
  malformed = 0;
  /** The earliest and latest time of a counted line (`toISOString()` form). */
  first: string | undefined;
  last: string | undefined;
  readonly problems: Problem[] = [];
  /** Quota key names seen (`tenant`, `user`, …), up to 50, to say so when `--by` names none of them. */
  readonly keyNames = new Set<string>();
  /** Spend per group key per time bucket; see `bucketUnit`. */
  readonly series = new Map<string, Map<string, NanoSum>>();
  private bucketLevel = 0;
  private readonly buckets = new Set<string>();
  /** Calls whose last line so far is "held": the only calls remembered (see the module's comment). */
  private readonly pending = new Map<string, Line>();
  /** Most parked at once, for the memory bound's record. */
  maxPending = 0;
  private readonly scopes = new Map<string, string>();
  private readonly quotaDims: Array<{ index: number; prefix: string }> = [];

  constructor(readonly options: TallyOptions) {
    options.by.forEach((name, index) => {
      if (!(BUILTIN_DIMENSIONS as readonly string[]).includes(name)) this.quotaDims.push({ index, prefix: `${name}:` });
    });
  }

  get bucketUnit(): "hour" | "day" | "month" {
    return BUCKETS[this.bucketLevel]!.unit;
  }

  /** Reads one line of the log (blank lines are skipped; a malformed one is counted and recorded). */
  add(text: string, file: string, lineNo: number): void {
    if (text.length === 0 || (text.length < 3 && text.trim() === "")) return;
    this.lines++;
    let line: Line;
    try {
      line = JSON.parse(text) as Line;
    } catch {
      return this.bad(file, lineNo, "not JSON (a line cut short?)");
    }
    const reason = invalid(line);
    if (reason) return this.bad(file, lineNo, reason);
    if (!ISO_Z.test(line.time)) {
      const ms = Date.parse(line.time);
      if (Number.isNaN(ms)) return this.bad(file, lineNo, `time ${JSON.stringify(line.time)} is not an ISO time`);
      line.time = new Date(ms).toISOString();
    }

    const parked = this.pending.get(line.callId);
    if (line.decision === "held") {
      // Its later lines replace it; counted only if it is still the last at the end. Only what counting reads
      // is kept (a held line has no usage, and no content).
      const { callId, time, model, provider, quotaKeys, costNanoUsd, decision } = line;
      this.pending.set(callId, { callId, time, model, provider, quotaKeys, costNanoUsd, decision });
      if (parked === undefined && this.pending.size > this.maxPending) this.maxPending = this.pending.size;
      return;
    }
    if (parked !== undefined) this.pending.delete(line.callId);
    this.count(line);
  }

  /** Counts the calls whose last line is "held". Call once, after the last line of the last file. */
  finish(): void {
    for (const line of this.pending.values()) this.count(line);
    this.pending.clear();
  }

  private bad(file: string, line: number, reason: string): void {
    this.malformed++;
    if (this.problems.length < 5) this.problems.push({ file, line, reason });
  }

  private count(line: Line): void {
    const { since, until } = this.options;
    if ((since !== undefined && line.time < since) || (until !== undefined && line.time >= until)) return;
    if (this.first === undefined || line.time < this.first) this.first = line.time;
    if (this.last === undefined || line.time > this.last) this.last = line.time;
    const values = this.options.by.map((name) => builtin(name, line));
    for (const { index, prefix } of this.quotaDims) {
      values[index] = this.quotaValue(line.quotaKeys, prefix);
      // No such key: note the names the line's keys have, for the message that says so.
      if (values[index] === NONE) for (const key of line.quotaKeys) if (typeof key === "string") this.scopeOf(key);
    }
    const key = values.join("\u001f");
    let group = this.groups.get(key);
    if (!group) this.groups.set(key, (group = { values: values as string[], calls: 0, heldCalls: 0, inputTokens: 0, outputTokens: 0, cost: new NanoSum() }));
    const nano = line.costNanoUsd;
    const input = tokens(line.usage?.inputTokens);
    const output = tokens(line.usage?.outputTokens);
    const held = line.decision === "held" ? 1 : 0;
    for (const totals of [group, this.total]) {
      totals.calls++;
      totals.heldCalls += held;
      totals.inputTokens += input;
      totals.outputTokens += output;
      totals.cost.add(nano);
    }
    sumInto(this.models, line.model, nano);
    const tenant = this.quotaValue(line.quotaKeys, "tenant:");
    if (tenant !== NONE) sumInto(this.tenants, tenant, nano);
    if (this.options.series) this.addToSeries(key, line.time, nano);
  }

  /** The value of the first quota key named `prefix` (`tenant:` → `acme`), without its window. */
  private quotaValue(keys: readonly string[], prefix: string): string {
    for (const key of keys) {
      if (typeof key !== "string" || !key.startsWith(prefix)) continue;
      const scope = this.scopeOf(key);
      if (scope.length > prefix.length && scope.startsWith(prefix)) return scope.slice(prefix.length);
    }
    return NONE;
  }

  /** `tenant:acme:month:2026-11` → `tenant:acme` (memoized: a log repeats its keys). */
  private scopeOf(key: string): string {
    let scope = this.scopes.get(key);
    if (scope === undefined) {
      if (this.scopes.size >= MEMO_MAX) this.scopes.clear();
      scope = key.replace(WINDOW_SUFFIX, "");
      this.scopes.set(key, scope);
      const colon = scope.indexOf(":");
      if (colon > 0 && this.keyNames.size < 50) this.keyNames.add(scope.slice(0, colon));
    }
    return scope;
  }

  private addToSeries(group: string, time: string, nano: number): void {
    let bucket = time.slice(0, BUCKETS[this.bucketLevel]!.length);
    if (!this.buckets.has(bucket)) {
      this.buckets.add(bucket);
      if (this.buckets.size > BUCKETS[this.bucketLevel]!.max) {
        this.coarsen();
        bucket = time.slice(0, BUCKETS[this.bucketLevel]!.length);
      }
    }
    let byBucket = this.series.get(group);
    if (!byBucket) this.series.set(group, (byBucket = new Map()));
    sumInto(byBucket, bucket, nano);
  }

  /** Hours to days, or days to months: the series keeps at most a few hundred buckets per group. */
  private coarsen(): void {
    this.bucketLevel++;
    const length = BUCKETS[this.bucketLevel]!.length;
    this.buckets.clear();
    for (const [group, byBucket] of this.series) {
      const merged = new Map<string, NanoSum>();
      for (const [bucket, sum] of byBucket) {
        const coarse = bucket.slice(0, length);
        this.buckets.add(coarse);
        let into = merged.get(coarse);
        if (!into) merged.set(coarse, (into = new NanoSum()));
        into.addBig(sum.value);
      }
      this.series.set(group, merged);
    }
  }
}

const tokens = (count: unknown): number => (typeof count === "number" && Number.isSafeInteger(count) && count > 0 ? count : 0);

function sumInto(map: Map<string, NanoSum>, key: string, nano: number): void {
  let sum = map.get(key);
  if (!sum) map.set(key, (sum = new NanoSum()));
  sum.add(nano);
}


function builtin(name: string, line: Line): string {
  switch (name) {
    case "model":
      return line.model;
    case "provider":
      return line.provider ?? NONE;
    case "day":
      return line.time.slice(0, 10);
    case "month":
      return line.time.slice(0, 7);
    case "decision":
      return line.decision;
    default:
      return NONE;
  }
}

const DECISIONS = new Set(["allowed", "clamped", "exceeded", "refused", "held", "released"]);

/** Why a parsed line isn't a metering entry, or `undefined` when it is one. */
function invalid(line: Line): string | undefined {
  if (typeof line !== "object" || line === null || Array.isArray(line)) return "not a JSON object";
  if (typeof line.callId !== "string" || line.callId === "") return "no callId";
  if (typeof line.time !== "string") return "no time";
  if (!Number.isSafeInteger(line.costNanoUsd) || line.costNanoUsd < 0) return "costNanoUsd is not an integer ≥ 0";
  if (typeof line.decision !== "string" || !DECISIONS.has(line.decision)) return `unknown decision ${JSON.stringify(line.decision)}`;
  if (typeof line.model !== "string") return "no model";
  if (line.quotaKeys === undefined) line.quotaKeys = [];
  else if (!Array.isArray(line.quotaKeys)) return "quotaKeys is not an array";
  return undefined;
}
