/**
 * Calendar windows: the occurrence containing an instant (its id, part of the counter's key, and when it
 * ends), in UTC and in named time zones, across DST changes; and quotas rolling over at a month boundary
 * with the store's clock under the test's control.
 *
 * Every expected instant below is worked out by hand from the zone's rules, e.g. New York springs forward
 * on 2026-03-08 at 02:00 EST, so that day runs 05:00Z → 04:00Z the next day (23 hours).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BudgetCallbackHandler, InMemoryBudgetStore, type Quota } from "../../src/index.js";
import { resolveQuotas } from "../../src/budget/quotas.js";
import { type QuotaWindow, windowAt } from "../../src/budget/windows.js";
import { CALL_NANO, meteredModel, rejectionOf, USAGE, useFakeOpenAI } from "./helpers.js";

const server = useFakeOpenAI();

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const span = (window: QuotaWindow, instant: string, timeZone?: string) => {
  const { id, endsAt } = windowAt(window, at(instant), timeZone);
  return { id, endsAt: iso(endsAt) };
};

describe("windowAt in UTC (the default)", () => {
  it("day, week (ISO, named by its Monday), month and total at 2026-11-28T15:00Z (a Saturday)", () => {
    expect(span("day", "2026-11-28T15:00:00Z")).toEqual({ id: "day:2026-11-28", endsAt: "2026-11-29T00:00:00.000Z" });
    expect(span("week", "2026-11-28T15:00:00Z")).toEqual({ id: "week:2026-11-23", endsAt: "2026-11-30T00:00:00.000Z" });
    expect(span("month", "2026-11-28T15:00:00Z")).toEqual({ id: "month:2026-11", endsAt: "2026-12-01T00:00:00.000Z" });
    expect(span("total", "2026-11-28T15:00:00Z")).toEqual({ id: "total", endsAt: undefined });
  });

  it("boundaries belong to the window they start", () => {
    expect(span("day", "2026-11-28T23:59:59.999Z").id).toBe("day:2026-11-28");
    expect(span("day", "2026-11-29T00:00:00.000Z").id).toBe("day:2026-11-29");
    expect(span("week", "2026-11-22T23:59:59.999Z")).toEqual({ id: "week:2026-11-16", endsAt: "2026-11-23T00:00:00.000Z" });
    expect(span("week", "2026-11-23T00:00:00.000Z")).toEqual({ id: "week:2026-11-23", endsAt: "2026-11-30T00:00:00.000Z" });
    expect(span("week", "2026-11-29T12:00:00Z").id).toBe("week:2026-11-23"); // Sunday ends the ISO week
  });

  it("rolls over the year: December, a week across New Year, and February of a leap year", () => {
    expect(span("month", "2026-12-31T23:59:59.999Z")).toEqual({ id: "month:2026-12", endsAt: "2027-01-01T00:00:00.000Z" });
    expect(span("week", "2026-12-31T12:00:00Z")).toEqual({ id: "week:2026-12-28", endsAt: "2027-01-04T00:00:00.000Z" });
    expect(span("week", "2027-01-02T12:00:00Z").id).toBe("week:2026-12-28");
    expect(span("month", "2028-02-29T12:00:00Z")).toEqual({ id: "month:2028-02", endsAt: "2028-03-01T00:00:00.000Z" });
    expect(span("day", "2028-02-28T12:00:00Z").endsAt).toBe("2028-02-29T00:00:00.000Z");
  });
});

describe("windowAt in a named time zone", () => {
  it("New York (EST, UTC−5): 03:00Z on the 28th is still the 27th there", () => {
    expect(span("day", "2026-11-28T03:00:00Z", "America/New_York")).toEqual({ id: "day:2026-11-27", endsAt: "2026-11-28T05:00:00.000Z" });
    expect(span("week", "2026-11-28T03:00:00Z", "America/New_York")).toEqual({ id: "week:2026-11-23", endsAt: "2026-11-30T05:00:00.000Z" });
    expect(span("month", "2026-12-01T03:00:00Z", "America/New_York")).toEqual({ id: "month:2026-11", endsAt: "2026-12-01T05:00:00.000Z" });
    expect(span("month", "2026-12-01T05:00:00Z", "America/New_York")).toEqual({ id: "month:2026-12", endsAt: "2027-01-01T05:00:00.000Z" });
  });

  it("New York's DST days: 23 hours in March, 25 in November", () => {
    // 2026-03-08: 00:00 EST (05:00Z) → 00:00 EDT next day (04:00Z).
    expect(span("day", "2026-03-08T04:59:59Z", "America/New_York")).toEqual({ id: "day:2026-03-07", endsAt: "2026-03-08T05:00:00.000Z" });
    expect(span("day", "2026-03-08T12:00:00Z", "America/New_York")).toEqual({ id: "day:2026-03-08", endsAt: "2026-03-09T04:00:00.000Z" });
    // 2026-11-01: 00:00 EDT (04:00Z) → 00:00 EST next day (05:00Z).
    expect(span("day", "2026-11-01T12:00:00Z", "America/New_York")).toEqual({ id: "day:2026-11-01", endsAt: "2026-11-02T05:00:00.000Z" });
    expect(span("week", "2026-11-01T12:00:00Z", "America/New_York")).toEqual({ id: "week:2026-10-26", endsAt: "2026-11-02T05:00:00.000Z" });
  });

  it("Paris's DST days, and a month that ends in summer time", () => {
    expect(span("day", "2026-03-29T12:00:00Z", "Europe/Paris")).toEqual({ id: "day:2026-03-29", endsAt: "2026-03-29T22:00:00.000Z" });
    expect(span("day", "2026-10-25T12:00:00Z", "Europe/Paris")).toEqual({ id: "day:2026-10-25", endsAt: "2026-10-25T23:00:00.000Z" });
    expect(span("week", "2026-03-25T12:00:00Z", "Europe/Paris")).toEqual({ id: "week:2026-03-23", endsAt: "2026-03-29T22:00:00.000Z" });
    expect(span("month", "2026-03-15T12:00:00Z", "Europe/Paris")).toEqual({ id: "month:2026-03", endsAt: "2026-03-31T22:00:00.000Z" });
  });

  it("zones where a DST change skips midnight itself: the day starts at the change", () => {
    // Havana, 2026-03-08: 00:00 CST (05:00Z) jumps to 01:00 CDT. The 7th ends at 05:00Z, not an hour early.
    expect(span("day", "2026-03-07T12:00:00Z", "America/Havana")).toEqual({ id: "day:2026-03-07", endsAt: "2026-03-08T05:00:00.000Z" });
    expect(span("day", "2026-03-08T04:30:00Z", "America/Havana").id).toBe("day:2026-03-07"); // 23:30 local
    // Santiago, 2026-09-06: 00:00 −04 (04:00Z) jumps to 01:00 −03.
    expect(span("day", "2026-09-05T12:00:00Z", "America/Santiago")).toEqual({ id: "day:2026-09-05", endsAt: "2026-09-06T04:00:00.000Z" });
    expect(span("day", "2026-09-06T12:00:00Z", "America/Santiago")).toEqual({ id: "day:2026-09-06", endsAt: "2026-09-07T03:00:00.000Z" });
    // Santiago, 2026-04-05: 00:00 −03 (03:00Z) falls back to 23:00 −04 on the 4th: the 4th ends at 04:00Z.
    expect(span("day", "2026-04-04T12:00:00Z", "America/Santiago")).toEqual({ id: "day:2026-04-04", endsAt: "2026-04-05T04:00:00.000Z" });
  });

  it("zones off the hour, and ahead of UTC by more than 12 hours", () => {
    expect(span("day", "2026-11-28T12:00:00Z", "Asia/Kolkata")).toEqual({ id: "day:2026-11-28", endsAt: "2026-11-28T18:30:00.000Z" });
    expect(span("day", "2026-11-28T12:00:00Z", "Pacific/Chatham")).toEqual({ id: "day:2026-11-29", endsAt: "2026-11-29T10:15:00.000Z" });
    expect(span("day", "2026-11-28T12:00:00Z", "Pacific/Kiritimati")).toEqual({ id: "day:2026-11-29", endsAt: "2026-11-29T10:00:00.000Z" });
    expect(span("day", "2026-10-04T12:00:00Z", "Australia/Lord_Howe")).toEqual({ id: "day:2026-10-04", endsAt: "2026-10-04T13:00:00.000Z" });
  });

  it("property: a window ends exactly where the next one starts, and contains the instant", () => {
    const zones = ["UTC", "America/New_York", "Europe/Paris", "America/Havana", "America/Santiago", "Africa/Cairo", "Asia/Kolkata", "Pacific/Chatham", "Australia/Lord_Howe"];
    const local = (timeZone: string, ms: number) =>
      new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(ms));
    fc.assert(
      fc.property(
        fc.integer({ min: at("2016-01-01T00:00:00Z"), max: at("2035-12-31T00:00:00Z") }),
        fc.constantFrom(...zones),
        fc.constantFrom<QuotaWindow>("day", "week", "month"),
        (instant, zone, window) => {
          const here = windowAt(window, instant, zone);
          const end = here.endsAt ?? Number.NaN;
          expect(end).toBeGreaterThan(instant);
          expect(windowAt(window, end - 1, zone).id).toBe(here.id);
          expect(windowAt(window, end, zone).id).not.toBe(here.id);
          if (window === "day") expect(here.id).toBe(`day:${local(zone, instant)}`);
          if (window === "month") expect(here.id).toBe(`month:${local(zone, instant).slice(0, 7)}`);
          if (window === "day") expect(windowAt("day", end, zone).id).toBe(`day:${local(zone, end)}`);
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe("resolveQuotas", () => {
  it("keys each counter by its window, and keeps it an hour past the window's end", async () => {
    const quotas: Quota[] = [
      { key: "user:{user_id}", limitUsd: 5, window: "day" },
      { key: "tenant:{tenant_id}", limitUsd: 500, window: "month", timeZone: "America/New_York" },
      { key: "org:{org}", limitUsd: 1000, window: "total" },
    ];
    const resolved = await resolveQuotas(quotas, { user_id: "u1", tenant_id: "acme", org: "o" }, at("2026-12-01T03:00:00Z"));
    expect(resolved).toEqual([
      { scope: "user:u1", key: "user:u1:day:2026-12-01", limitNano: 5_000_000_000, expiresAt: at("2026-12-02T01:00:00Z") },
      { scope: "tenant:acme", key: "tenant:acme:month:2026-11", limitNano: 500_000_000_000, expiresAt: at("2026-12-01T06:00:00Z") },
      { scope: "org:o", key: "org:o:total", limitNano: 1_000_000_000_000, expiresAt: undefined },
    ]);
  });
});

describe("a month quota rolls over with the store's clock", () => {
  const TENANT: Quota = { key: "tenant:{tenant_id}", limitUsd: 0.001, window: "month" };
  const META = { tenant_id: "acme" };

  async function spentOf(store: InMemoryBudgetStore, key: string) {
    return (await store.check([{ key, limitNano: Number.MAX_SAFE_INTEGER }])).states[0]?.spentNano;
  }

  it("UTC: spent in the last second of November, fresh at midnight on December 1st", async () => {
    server().setDefault({ usage: USAGE });
    let now = at("2026-11-30T23:59:58Z");
    const store = new InMemoryBudgetStore({ clock: () => now });
    const model = meteredModel(server());
    const run = () => new BudgetCallbackHandler({ quotas: [TENANT], store });

    for (const n of [1, 2]) await model.invoke(`${n}`, { callbacks: [run()], metadata: META });
    await rejectionOf(model.invoke("3", { callbacks: [run()], metadata: META })); // crosses: $0.00135
    now = at("2026-11-30T23:59:59.999Z");
    expect(await rejectionOf(model.invoke("4", { callbacks: [run()], metadata: META }))).toMatchObject({ scope: "tenant:acme", stop: "refused" });
    expect(server().requests).toHaveLength(3);

    now = at("2026-12-01T00:00:00Z");
    await model.invoke("5", { callbacks: [run()], metadata: META });

    expect(server().requests).toHaveLength(4);
    expect(await spentOf(store, "tenant:acme:month:2026-11")).toBe(3 * CALL_NANO);
    expect(await spentOf(store, "tenant:acme:month:2026-12")).toBe(CALL_NANO);
  });

  it("New York: still November until 05:00Z on December 1st", async () => {
    server().setDefault({ usage: USAGE });
    let now = at("2026-11-30T20:00:00Z");
    const store = new InMemoryBudgetStore({ clock: () => now });
    const model = meteredModel(server());
    const quota: Quota = { ...TENANT, limitUsd: 0.0004, timeZone: "America/New_York" };
    const run = () => new BudgetCallbackHandler({ quotas: [quota], store });

    await rejectionOf(model.invoke("crosses", { callbacks: [run()], metadata: META }));
    now = at("2026-12-01T04:59:59Z"); // 23:59:59 EST on November 30th
    expect(await rejectionOf(model.invoke("refused", { callbacks: [run()], metadata: META }))).toMatchObject({ stop: "refused" });
    now = at("2026-12-01T05:00:00Z");
    await model.invoke("December", { callbacks: [run()], metadata: META }).catch(() => {}); // crosses December's

    expect(server().requests).toHaveLength(2);
    expect(await spentOf(store, "tenant:acme:month:2026-11")).toBe(CALL_NANO);
    expect(await spentOf(store, "tenant:acme:month:2026-12")).toBe(CALL_NANO);
  });

  it("the store forgets a counter once its window (plus an hour's grace) is over", async () => {
    let now = at("2026-11-30T12:00:00Z");
    const store = new InMemoryBudgetStore({ clock: () => now });
    const [limit] = await resolveQuotas([TENANT], META, now);
    if (!limit) throw new Error("no limit");
    await store.settle("call-1", [limit], CALL_NANO);
    expect(await spentOf(store, limit.key)).toBe(CALL_NANO);

    now = at("2026-12-01T00:59:59.999Z"); // within the grace: calls begun in November still settle there
    expect((await store.check([limit])).states[0]?.spentNano).toBe(CALL_NANO);
    now = at("2026-12-01T01:00:00Z");
    expect((await store.check([limit])).states[0]?.spentNano).toBe(0);
  });
});
