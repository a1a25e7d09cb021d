/** A quota's calendar window. `"total"` never rolls over. */
export type QuotaWindow = "day" | "week" | "month" | "total";

/** One occurrence of a window: its id (part of the counter's key) and when it ends. */
export interface WindowSpan {
  id: string;
  /** ms since epoch; `undefined` for `"total"`. */
  endsAt: number | undefined;
}

const DAY_MS = 86_400_000;

/**
 * Formatters by time zone, built once: building an `Intl.DateTimeFormat` costs about 0.2 ms, and every
 * call resolves every quota's window.
 */
const dateFormats = new Map<string, Intl.DateTimeFormat>();
const timeFormats = new Map<string, Intl.DateTimeFormat>();

function cached(formats: Map<string, Intl.DateTimeFormat>, timeZone: string, options: Intl.DateTimeFormatOptions) {
  let format = formats.get(timeZone);
  if (!format) formats.set(timeZone, (format = new Intl.DateTimeFormat("en-US", { ...options, timeZone })));
  return format;
}

/** The wall-clock date in `timeZone` at `epochMs`. */
function dateIn(timeZone: string, epochMs: number): { year: number; month: number; day: number } {
  const parts = cached(dateFormats, timeZone, { year: "numeric", month: "numeric", day: "numeric" })
    .formatToParts(new Date(epochMs))
    .reduce<Record<string, number>>((acc, part) => ((acc[part.type] = Number(part.value)), acc), {});
  return { year: parts.year ?? 0, month: parts.month ?? 0, day: parts.day ?? 0 };
}

/** How far `timeZone` is ahead of UTC at `epochMs`, in ms. */
function offsetAt(timeZone: string, epochMs: number): number {
  const parts = cached(timeFormats, timeZone, {
    hourCycle: "h23",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    second: "numeric",
  })
    .formatToParts(new Date(epochMs))
    .reduce<Record<string, number>>((acc, part) => ((acc[part.type] = Number(part.value)), acc), {});
  const asUtc = Date.UTC(parts.year ?? 0, (parts.month ?? 1) - 1, parts.day ?? 1, parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0);
  return asUtc - Math.floor(epochMs / 1000) * 1000;
}

/**
 * The instant the given date starts in `timeZone` (DST-safe: the offset is re-read once). Where a DST change
 * skips midnight itself (America/Havana, America/Santiago), the day starts at the change: the first reading.
 */
function localMidnight(timeZone: string, year: number, month: number, day: number): number {
  const guess = Date.UTC(year, month - 1, day);
  const first = guess - offsetAt(timeZone, guess);
  const second = guess - offsetAt(timeZone, first);
  const date = dateIn(timeZone, second);
  return date.year === year && date.month === month && date.day === day ? second : first;
}

const pad = (n: number) => String(n).padStart(2, "0");

/**
 * The window occurrence containing `epochMs`, on calendar boundaries in `timeZone` (UTC by default).
 * Weeks are ISO weeks (Monday to Sunday), named by their Monday: `week:2026-11-23`.
 */
export function windowAt(window: QuotaWindow, epochMs: number, timeZone = "UTC"): WindowSpan {
  if (window === "total") return { id: "total", endsAt: undefined };
  const { year, month, day } = dateIn(timeZone, epochMs);
  if (window === "month") {
    const next = month === 12 ? [year + 1, 1] : [year, month + 1];
    return { id: `month:${year}-${pad(month)}`, endsAt: localMidnight(timeZone, next[0]!, next[1]!, 1) };
  }
  if (window === "day") {
    const next = new Date(Date.UTC(year, month - 1, day) + DAY_MS);
    return {
      id: `day:${year}-${pad(month)}-${pad(day)}`,
      endsAt: localMidnight(timeZone, next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate()),
    };
  }
  const weekday = (new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 6) % 7; // Monday = 0
  const monday = new Date(Date.UTC(year, month - 1, day) - weekday * DAY_MS);
  const nextMonday = new Date(monday.getTime() + 7 * DAY_MS);
  return {
    id: `week:${monday.getUTCFullYear()}-${pad(monday.getUTCMonth() + 1)}-${pad(monday.getUTCDate())}`,
    endsAt: localMidnight(timeZone, nextMonday.getUTCFullYear(), nextMonday.getUTCMonth() + 1, nextMonday.getUTCDate()),
  };
}

/** Whether `timeZone` is one this runtime knows (an IANA name such as "Europe/Paris"). */
export function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone });
    return true;
  } catch {
    return false;
  }
}
