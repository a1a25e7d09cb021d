/**
 * Generated metering logs for the report CLI's tests and bench: lines as `JsonlMeterSink` writes them, with
 * hard-capped calls that write "held" (sometimes twice: a waiting call's new amount) and, a few lines later
 * (other calls interleaved), their outcome; refused and released calls at $0; and calls whose worker "died"
 * (only a "held" line). `lastLineTotals` is the reference: a map of every call id to its last line, summed in
 * BigInt, independently of the CLI's bounded dedup.
 */
import type { MeterEntry } from "../../src/budget/meter-sink.js";
import { seeded } from "../support/seeded.js";

const MODELS = [
  ["openai", "gpt-4o-mini"],
  ["openai", "gpt-4o"],
  ["anthropic", "claude-sonnet-4-5"],
  ["google", "gemini-2.5-flash"],
] as const;


const usage = (input: number, output: number): MeterEntry["usage"] => ({
  inputTokens: input,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  cacheWrite1hTokens: 0,
  inputAudioTokens: 0,
  outputTokens: output,
  reasoningTokens: 0,
  outputAudioTokens: 0,
});

export interface LogOptions {
  calls: number;
  seed?: number;
  /** ISO start; calls are spread over `spanHours` after it. */
  start?: string;
  spanHours?: number;
  tenants?: number;
  users?: number;
}

/** The lines of a generated log, in write order (calls interleave: an outcome comes a few lines after its hold). */
export function* meterLog(options: LogOptions): Generator<MeterEntry> {
  const { calls, seed = 1, start = "2026-11-27T00:00:00.000Z", spanHours = 72, tenants = 4, users = 12 } = options;
  const rand = seeded(seed);
  const t0 = Date.parse(start);
  const step = (spanHours * 3_600_000) / Math.max(1, calls);
  const waiting: Array<{ due: number; entry: MeterEntry }> = [];
  for (let i = 0; i < calls; i++) {
    const at = t0 + Math.floor(i * step);
    // Outcomes whose turn has come, written at their own (later) time.
    while (waiting.length && waiting[0]!.due <= i) yield waiting.shift()!.entry;
    const [provider, model] = MODELS[Math.floor(rand() * MODELS.length)]!;
    const tenant = `t${Math.floor(rand() * tenants)}`;
    const user = `u${Math.floor(rand() * users)}`;
    const time = new Date(at).toISOString();
    const day = time.slice(0, 10);
    const base: MeterEntry = {
      callId: `${seed.toString(16)}-${i.toString(36)}`,
      time,
      runId: `run-${i}`,
      parentRunId: undefined,
      quotaKeys: [`user:${user}:day:${day}`, `tenant:${tenant}:month:${time.slice(0, 7)}`],
      provider,
      model,
      usage: usage(0, 0),
      costUsd: 0,
      costNanoUsd: 0,
      priceSource: "genai-prices@0.1.8",
      estimated: false,
      decision: "allowed",
    };
    const input = 50 + Math.floor(rand() * 5000);
    const output = Math.floor(rand() * 2000);
    const cost = 1 + Math.floor(rand() * 9_000_000);
    const line = (decision: MeterEntry["decision"], nano: number, at: number, tokens = decision !== "held" && nano > 0): MeterEntry => ({
      ...base,
      time: new Date(at).toISOString(),
      usage: tokens ? usage(input, output) : usage(0, 0),
      costUsd: nano / 1e9,
      costNanoUsd: nano,
      priceSource: decision === "held" || nano === 0 ? "override" : base.priceSource,
      decision,
    });
    const kind = rand();
    if (kind < 0.45) {
      yield line("allowed", cost, at);
      continue;
    }
    if (kind < 0.5) {
      yield line("refused", 0, at);
      continue;
    }
    // A hard-capped call in a shared store: held (its worst case), maybe held again, then its outcome.
    const worst = cost + Math.floor(rand() * 20_000_000);
    yield line("held", worst, at);
    if (rand() < 0.1) yield line("held", worst + 1_000, at + 1);
    const fate = rand();
    const later = 1 + Math.floor(rand() * 8);
    const outcomeAt = at + Math.floor(later * step) + 5;
    if (fate < 0.06) continue; // the worker died: only "held" stands
    const outcome =
      fate < 0.14 ? line("released", 0, outcomeAt) : fate < 0.2 ? line("exceeded", cost, outcomeAt) : fate < 0.45 ? line("clamped", cost, outcomeAt) : line("allowed", cost, outcomeAt);
    waiting.push({ due: i + later, entry: outcome });
    waiting.sort((a, b) => a.due - b.due);
  }
  for (const { entry } of waiting) yield entry;
}

export interface Reference {
  total: bigint;
  calls: number;
  groups: Map<string, { nano: bigint; calls: number; inputTokens: number; outputTokens: number }>;
}

/** Per callId the last line, filtered by its time, summed per group (`key` of the line) in BigInt. */
export function lastLineTotals(entries: Iterable<MeterEntry>, key: (entry: MeterEntry) => string, range: { since?: string; until?: string } = {}): Reference {
  const last = new Map<string, MeterEntry>();
  for (const entry of entries) last.set(entry.callId, entry);
  const ref: Reference = { total: 0n, calls: 0, groups: new Map() };
  for (const entry of last.values()) {
    const ms = Date.parse(entry.time);
    if (range.since && ms < Date.parse(range.since)) continue;
    if (range.until && ms >= Date.parse(range.until)) continue;
    const k = key(entry);
    const group = ref.groups.get(k) ?? { nano: 0n, calls: 0, inputTokens: 0, outputTokens: 0 };
    group.nano += BigInt(entry.costNanoUsd);
    group.calls++;
    group.inputTokens += entry.usage.inputTokens;
    group.outputTokens += entry.usage.outputTokens;
    ref.groups.set(k, group);
    ref.total += BigInt(entry.costNanoUsd);
    ref.calls++;
  }
  return ref;
}

/** The value of a quota key named `name` on a line (`tenant` → `t3`). */
export const quotaValue = (entry: MeterEntry, name: string): string =>
  entry.quotaKeys.find((k) => k.startsWith(`${name}:`))?.split(":")[1] ?? "(none)";
