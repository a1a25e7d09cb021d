import type { GroupTotals, Tally } from "./tally.js";

/** Exact USD from nano-USD: `12345678901n` → `"12.345678901"` (always nine decimals). */
export function usdExact(nano: bigint): string {
  const sign = nano < 0n ? "-" : "";
  const abs = nano < 0n ? -nano : nano;
  return `${sign}${abs / 1_000_000_000n}.${(abs % 1_000_000_000n).toString().padStart(9, "0")}`;
}

/** The report's rows, in order: by cost, highest first (by the group's values when the first dimension is a date). */
export function sortedGroups(tally: Tally): GroupTotals[] {
  const rows = [...tally.groups.values()];
  const byDate = tally.options.by[0] === "day" || tally.options.by[0] === "month";
  const byValues = (a: GroupTotals, b: GroupTotals) => {
    for (let i = 0; i < a.values.length; i++) {
      const order = (a.values[i] ?? "").localeCompare(b.values[i] ?? "");
      if (order !== 0) return order;
    }
    return 0;
  };
  return rows.sort((a, b) => {
    if (byDate) {
      const first = (a.values[0] ?? "").localeCompare(b.values[0] ?? "");
      if (first !== 0) return first;
    }
    const ca = a.cost.value;
    const cb = b.cost.value;
    return ca === cb ? byValues(a, b) : cb > ca ? 1 : -1;
  });
}

export const COLUMNS = ["calls", "held_calls", "input_tokens", "output_tokens", "cost_usd", "cost_nano_usd"] as const;

function cells(row: GroupTotals): string[] {
  const nano = row.cost.value;
  return [String(row.calls), String(row.heldCalls), String(row.inputTokens), String(row.outputTokens), usdExact(nano), nano.toString()];
}

const thousands = (digits: string) => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");

/** An aligned text table: one row per group, then the total. */
export function table(tally: Tally): string {
  const by = tally.options.by;
  const header = [...by, ...COLUMNS];
  const body = sortedGroups(tally).map((row) => [...row.values, ...cells(row)]);
  const total = [...by.map((_, i) => (i === 0 ? "total" : "")), ...cells(tally.total)];
  const pretty = (row: string[]) => row.map((cell, i) => (i >= by.length && i < by.length + 4 ? thousands(cell) : cell));
  const rows = [header, ...body.map(pretty), pretty(total)];
  const widths = header.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? "").length)));
  const line = (row: string[]) =>
    row
      .map((cell, i) => (i < by.length ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(header), rule, ...rows.slice(1, -1).map(line), rule, line(rows[rows.length - 1]!)].join("\n") + "\n";
}

/** RFC 4180 CSV: a header, then one row per group (no total row: summing the column gives it). */
export function csv(tally: Tally): string {
  const quote = (cell: string) => (/[",\r\n]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell);
  const rows = [[...tally.options.by, ...COLUMNS], ...sortedGroups(tally).map((row) => [...row.values, ...cells(row)])];
  return rows.map((row) => row.map(quote).join(",")).join("\r\n") + "\r\n";
}

/** Totals as JSON; `costNanoUsd` is an exact integer literal, `costUsd` an exact decimal string. */
export function json(tally: Tally, meta: { files: readonly string[]; since?: string | undefined; until?: string | undefined }): string {
  const totals = (row: GroupTotals) => ({
    calls: row.calls,
    heldCalls: row.heldCalls,
    inputTokens: row.inputTokens,
    outputTokens: row.outputTokens,
    costUsd: usdExact(row.cost.value),
    costNanoUsd: row.cost.value,
  });
  const report = {
    files: meta.files,
    by: tally.options.by,
    since: meta.since ?? null,
    until: meta.until ?? null,
    lines: tally.lines,
    malformedLines: tally.malformed,
    total: totals(tally.total),
    groups: sortedGroups(tally).map((row) => ({
      group: Object.fromEntries(tally.options.by.map((name, i) => [name, row.values[i]])),
      ...totals(row),
    })),
  };
  return stringifyWithBigInts(report) + "\n";
}

/** `JSON.stringify`, writing BigInts as integer literals (exact, whatever their size). */
export function stringifyWithBigInts(value: unknown, indent = 2): string {
  const mark = `\u0000big${Math.random().toString(36).slice(2)}:`;
  const text = JSON.stringify(value, (_, v: unknown) => (typeof v === "bigint" ? `${mark}${v}` : v), indent);
  const escaped = JSON.stringify(mark).slice(1, -1);
  return text.replace(new RegExp(`"${escaped.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&")}(-?\\d+)"`, "g"), "$1");
}
