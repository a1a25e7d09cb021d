/**
 * Quotas on a BudgetCallbackHandler, kept in an InMemoryBudgetStore whose clock the test holds still:
 * keys filled from the run's metadata, refusals that name the quota, the run limit and quotas checked
 * together, and the validation of the `quotas` option.
 *
 * Figures: every call costs $0.00045 = 450,000 nano-USD (gpt-4o-mini, 1000 in + 500 out). A $0.001 quota
 * takes calls 1 and 2 ($0.0009); call 3 takes it to $0.00135 and crosses; a call after that is refused.
 * The clock reads 2026-11-28T15:00:00Z: the day window is `day:2026-11-28`, the month `month:2026-11`.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  BudgetCallbackHandler,
  BudgetExceededError,
  InvalidOptionsError,
  InMemoryBudgetStore,
  MeteredChatModel,
  type Quota,
  QuotaKeyError,
} from "../../src/index.js";
import { CALL_NANO, meteredModel, plainModel, rejectionOf, USAGE, useFakeOpenAI } from "./helpers.js";

const server = useFakeOpenAI();
afterEach(() => vi.restoreAllMocks());

const NOW = Date.parse("2026-11-28T15:00:00Z");
const USER: Quota = { key: "user:{user_id}", limitUsd: 5, window: "day" };
const TENANT: Quota = { key: "tenant:{tenant_id}", limitUsd: 500, window: "month" };
const META = { user_id: "u1", tenant_id: "acme" };

function fixedStore(): InMemoryBudgetStore {
  return new InMemoryBudgetStore({ clock: () => NOW });
}

/** What the store holds for a counter key (window included). */
async function spentOf(store: InMemoryBudgetStore, key: string): Promise<number> {
  const { states } = await store.check([{ key, limitNano: Number.MAX_SAFE_INTEGER }]);
  return states[0]?.spentNano ?? Number.NaN;
}

/** LangChain logs a plain model's handler errors with console.error before rethrowing them. */
const silenceHandlerErrors = () => vi.spyOn(console, "error").mockImplementation(() => {});

describe("quota keys from the run's metadata", () => {
  it("fills each {field} from config.metadata and charges every quota's counter for its window", async () => {
    server().setDefault({ usage: USAGE });
    const store = fixedStore();
    const budget = new BudgetCallbackHandler({ quotas: [USER, TENANT], store });

    await plainModel(server()).invoke("hi", { callbacks: [budget], metadata: META });
    await meteredModel(server()).invoke("hi", { callbacks: [budget], metadata: META });

    expect(await spentOf(store, "user:u1:day:2026-11-28")).toBe(2 * CALL_NANO);
    expect(await spentOf(store, "tenant:acme:month:2026-11")).toBe(2 * CALL_NANO);
    expect(await spentOf(store, "user:u2:day:2026-11-28")).toBe(0);
    expect(budget.spentUsd).toBe(0.0009);
    expect(server().requests).toHaveLength(2);
  });

  it("takes numbers as well as strings, and several fields in one key", async () => {
    server().setDefault({ usage: USAGE });
    const store = fixedStore();
    const quotas: Quota[] = [{ key: "org:{org}/team:{team}", limitUsd: 1, window: "total" }, { key: "user:{user_id}", limitUsd: 1, window: "week" }];
    const budget = new BudgetCallbackHandler({ quotas, store });

    await meteredModel(server()).invoke("hi", { callbacks: [budget], metadata: { org: "acme", team: 7, user_id: 42 } });

    expect(await spentOf(store, "org:acme/team:7:total")).toBe(CALL_NANO);
    expect(await spentOf(store, "user:42:week:2026-11-23")).toBe(CALL_NANO);
  });

  it("refuses a call whose metadata lacks a field with QuotaKeyError, before any request (metered model)", async () => {
    server().setDefault({ usage: USAGE });
    const store = fixedStore();
    const budget = new BudgetCallbackHandler({ quotas: [USER, TENANT], store });

    const error = await rejectionOf(meteredModel(server()).invoke("hi", { callbacks: [budget], metadata: { user_id: "u1" } }));

    expect(QuotaKeyError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ template: "tenant:{tenant_id}", field: "tenant_id" });
    expect((error as Error).message).toContain("needs `tenant_id` in the run's metadata");
    expect(server().requests).toHaveLength(0);
    expect(await spentOf(store, "user:u1:day:2026-11-28")).toBe(0); // nothing charged to the quota it could fill
    expect(budget.records).toHaveLength(0);
  });

  it("refuses a plain model's call the same way (no metadata at all)", async () => {
    silenceHandlerErrors();
    server().setDefault({ usage: USAGE });
    const budget = new BudgetCallbackHandler({ quotas: [USER], store: fixedStore() });

    const error = await rejectionOf(plainModel(server()).invoke("hi", { callbacks: [budget] }));

    expect(QuotaKeyError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ template: "user:{user_id}", field: "user_id" });
    expect(server().requests).toHaveLength(0);
  });

  it.each([
    ["an empty string", ""],
    ["null", null],
    ["an object", { id: "u1" }],
    ["a boolean", true],
    ["NaN", Number.NaN],
  ])("treats %s as a missing field (never a bucket shared by everyone without an id)", async (_label, value) => {
    server().setDefault({ usage: USAGE });
    const budget = new BudgetCallbackHandler({ quotas: [USER], store: fixedStore() });

    const error = await rejectionOf(meteredModel(server()).invoke("hi", { callbacks: [budget], metadata: { user_id: value } }));

    expect(QuotaKeyError.isInstance(error)).toBe(true);
    expect(server().requests).toHaveLength(0);
  });
});

describe("BudgetExceededError names the quota that stopped the call", () => {
  const TIGHT_USER: Quota = { key: "user:{user_id}", limitUsd: 0.001, window: "day" };

  it("crossing: scope is the filled key without its window; later runs are refused with the same scope", async () => {
    server().setDefault({ usage: USAGE });
    const store = fixedStore();
    const model = meteredModel(server());
    const run = () => new BudgetCallbackHandler({ quotas: [TIGHT_USER, TENANT], store }); // a fresh budget per run

    await model.invoke("1", { callbacks: [run()], metadata: META });
    await model.invoke("2", { callbacks: [run()], metadata: META });
    const crossing = run();
    const exceeded = await rejectionOf(model.invoke("3", { callbacks: [crossing], metadata: META }));

    expect(BudgetExceededError.isInstance(exceeded)).toBe(true);
    expect(exceeded).toMatchObject({ scope: "user:u1", stop: "exceeded", limitUsd: 0.001, spentUsd: 0.00135, status: 402 });
    expect((exceeded as Error).message).toContain("The quota \"user:u1\" is spent: $0.00135 of its $0.001 limit. Raise its `limitUsd` in `quotas`");
    expect(crossing.signal.aborted).toBe(true);
    expect(crossing.spentUsd).toBe(0.00045); // the run itself spent one call: the quota is what crossed
    expect(server().requests).toHaveLength(3);

    const refused = await rejectionOf(model.invoke("4", { callbacks: [run()], metadata: META }));
    expect(refused).toMatchObject({ scope: "user:u1", stop: "refused", limitUsd: 0.001, spentUsd: 0.00135 });
    expect(server().requests).toHaveLength(3); // refused before it was sent

    // Another user of the same tenant still has a day: the tenant counter took every paid call.
    await model.invoke("5", { callbacks: [run()], metadata: { user_id: "u2", tenant_id: "acme" } });
    expect(server().requests).toHaveLength(4);
    expect(await spentOf(store, "user:u1:day:2026-11-28")).toBe(3 * CALL_NANO);
    expect(await spentOf(store, "user:u2:day:2026-11-28")).toBe(CALL_NANO);
    expect(await spentOf(store, "tenant:acme:month:2026-11")).toBe(4 * CALL_NANO);
  });

  it("the same budget, once a quota stopped it, refuses its next calls naming that quota (not the run)", async () => {
    server().setDefault({ usage: USAGE });
    const budget = new BudgetCallbackHandler({ quotas: [TIGHT_USER], store: fixedStore() });
    const model = meteredModel(server());
    for (const n of [1, 2]) await model.invoke(`${n}`, { callbacks: [budget], metadata: META });
    await rejectionOf(model.invoke("3", { callbacks: [budget], metadata: META }));

    const refused = await rejectionOf(model.invoke("4", { callbacks: [budget], metadata: { user_id: "u2" } }));

    expect(refused).toMatchObject({ scope: "user:u1", stop: "refused", limitUsd: 0.001, spentUsd: 0.00135 });
    expect((refused as Error).message).toContain("Call refused: the quota \"user:u1\" is spent");
    expect(server().requests).toHaveLength(3);
  });

  it("a plain model under a hard cap is refused by a spent quota before it is sent", async () => {
    silenceHandlerErrors();
    server().setDefault({ usage: USAGE });
    const store = fixedStore();
    const model = plainModel(server());
    const outcomes: string[] = [];
    for (const n of [1, 2, 3]) {
      const budget = new BudgetCallbackHandler({ quotas: [TIGHT_USER], store });
      await model.invoke(`${n}`, { callbacks: [budget], metadata: META }).then(
        () => outcomes.push("ok"),
        (error: BudgetExceededError) => outcomes.push(error.stop),
      );
    }
    expect(outcomes).toEqual(["ok", "ok", "exceeded"]);
    expect(server().requests).toHaveLength(3);
    expect(await spentOf(store, "user:u1:day:2026-11-28")).toBe(3 * CALL_NANO);

    const budget = new BudgetCallbackHandler({ quotas: [TIGHT_USER], store, hardCap: true });
    const refused = await rejectionOf(model.invoke("4", { callbacks: [budget], metadata: META }));

    expect(refused).toMatchObject({ scope: "user:u1", stop: "refused", spentUsd: 0.00135 });
    expect(server().requests).toHaveLength(3);
  });
});

describe("the run limit and the quotas are checked together", () => {
  it("the run's limit stops the run (scope run) while every quota still counts the crossing call", async () => {
    server().setDefault({ usage: USAGE });
    const store = fixedStore();
    const budget = new BudgetCallbackHandler({ limitUsd: 0.001, quotas: [USER, TENANT], store });
    const model = meteredModel(server());

    await model.invoke("1", { callbacks: [budget], metadata: META });
    await model.invoke("2", { callbacks: [budget], metadata: META });
    const error = await rejectionOf(model.invoke("3", { callbacks: [budget], metadata: META }));

    expect(error).toMatchObject({ scope: "run", stop: "exceeded", limitUsd: 0.001, spentUsd: 0.00135 });
    expect(await spentOf(store, "user:u1:day:2026-11-28")).toBe(3 * CALL_NANO);
    expect(await spentOf(store, "tenant:acme:month:2026-11")).toBe(3 * CALL_NANO);

    const refused = await rejectionOf(model.invoke("4", { callbacks: [budget], metadata: META }));
    expect(refused).toMatchObject({ scope: "run", stop: "refused", limitUsd: 0.001, spentUsd: 0.00135 });
    expect(server().requests).toHaveLength(3);
  });

  it("a quota spent by earlier runs refuses a fresh run whose own limit is untouched", async () => {
    server().setDefault({ usage: USAGE });
    const store = fixedStore();
    const tenant: Quota = { key: "tenant:{tenant_id}", limitUsd: 0.0009, window: "month" };
    const model = meteredModel(server());
    await model.invoke("1", { callbacks: [new BudgetCallbackHandler({ quotas: [USER, tenant], store })], metadata: META });
    await model.invoke("2", { callbacks: [new BudgetCallbackHandler({ quotas: [USER, tenant], store })], metadata: META });

    // $0.0009 of $0.0009: spent (spent >= limit), though the run has its whole $2 and the user quota $5.
    const fresh = new BudgetCallbackHandler({ quotas: [USER, tenant], store });
    const refused = await rejectionOf(model.invoke("3", { callbacks: [fresh], metadata: { ...META, user_id: "u9" } }));

    expect(refused).toMatchObject({ scope: "tenant:acme", stop: "refused", limitUsd: 0.0009, spentUsd: 0.0009 });
    expect(fresh.remainingUsd).toBe(2);
    expect(server().requests).toHaveLength(2);
  });

  it("of two quotas, the one that crosses is named, and both are charged", async () => {
    server().setDefault({ usage: USAGE });
    const store = fixedStore();
    const quotas: Quota[] = [{ key: "user:{user_id}", limitUsd: 0.01, window: "day" }, { key: "tenant:{tenant_id}", limitUsd: 0.0005, window: "month" }];
    const budget = new BudgetCallbackHandler({ quotas, store });
    const model = meteredModel(server());

    await model.invoke("1", { callbacks: [budget], metadata: META }); // tenant: $0.00045 of $0.0005
    const error = await rejectionOf(model.invoke("2", { callbacks: [budget], metadata: META })); // $0.0009: crosses

    expect(error).toMatchObject({ scope: "tenant:acme", stop: "exceeded", limitUsd: 0.0005, spentUsd: 0.0009 });
    expect(await spentOf(store, "user:u1:day:2026-11-28")).toBe(2 * CALL_NANO);
    expect(await spentOf(store, "tenant:acme:month:2026-11")).toBe(2 * CALL_NANO);
  });

  it("under a hard cap, the tighter of the run's room and every quota's room bounds the call", async () => {
    server().setDefault((request) => ({
      usage: { promptTokens: 10, completionTokens: Math.min(500, request.body.max_tokens ?? 500) },
    }));
    const store = fixedStore();
    // Room: run $1, user $0.0002, tenant $500. The user quota is the tightest: the call is clamped to fit it.
    const quotas: Quota[] = [{ key: "user:{user_id}", limitUsd: 0.0002, window: "day" }, TENANT];
    const budget = new BudgetCallbackHandler({ limitUsd: 1, hardCap: true, quotas, store });
    const model = meteredModel(server(), { maxTokens: 500 });

    await model.invoke("hi", { callbacks: [budget], metadata: META });

    const sent = server().requests[0]?.body.max_tokens as number;
    expect(sent).toBeGreaterThanOrEqual(16);
    expect(sent).toBeLessThan(500);
    expect(budget.records[0]?.budget?.decision).toBe("clamped");
    const spent = await spentOf(store, "user:u1:day:2026-11-28");
    expect(spent).toBe(10 * 150 + sent * 600); // the fake served exactly what was allowed
    expect(spent).toBeLessThanOrEqual(200_000);

    // What is left can't pay for even a short answer: the next call is refused, naming the user quota.
    const refused = await rejectionOf(model.invoke("again", { callbacks: [budget], metadata: META }));
    expect(refused).toMatchObject({ scope: "user:u1", stop: "refused" });
    expect(server().requests).toHaveLength(1);
  });
});

describe("invalid quota options fail at construction, naming the path", () => {
  const cases: Array<[string, unknown, string]> = [
    ["a bad window", [{ key: "u:{id}", limitUsd: 1, window: "hour" }], 'quotas[0].window: Invalid option: expected one of "day"|"week"|"month"|"total"'],
    ["an unknown time zone", [USER, { ...TENANT, timeZone: "Mars/Olympus" }], 'quotas[1].timeZone: Unknown time zone (use an IANA name such as "Europe/Paris")'],
    ["a negative limit", [{ ...USER, limitUsd: -1 }], "quotas[0].limitUsd: Expected a number of USD ≥ 0, or a plan (a function of the key's fields), got -1 (number)"],
    ["an infinite limit", [{ ...USER, limitUsd: Number.POSITIVE_INFINITY }], "quotas[0].limitUsd: Expected a number of USD ≥ 0, or a plan (a function of the key's fields), got Infinity (number)"],
    ["an empty key", [{ ...USER, key: "" }], "quotas[0].key: Too small: expected string to have >=1 characters"],
    ["a misspelt option", [{ ...USER, timezone: "UTC" }], 'quotas[0]: Unrecognized key: "timezone"'],
    ["not an array", "user:{user_id}", "quotas: Invalid input: expected array, received string"],
  ];

  it.each(cases)("BudgetCallbackHandler: %s", (_label, quotas, path) => {
    const construct = () => new BudgetCallbackHandler({ quotas: quotas as Quota[] });
    expect(construct).toThrow(InvalidOptionsError);
    expect(construct).toThrow(`Invalid options for BudgetCallbackHandler:\n  - ${path}`);
  });

  it.each(cases)("MeteredChatModel's budget option: %s", (_label, quotas, path) => {
    const construct = () => new MeteredChatModel({ model: "gpt-4o-mini", apiKey: "test", budget: { quotas: quotas as Quota[] } });
    expect(construct).toThrow(InvalidOptionsError);
    expect(construct).toThrow(`budget.${path}`);
  });

  it("lists every problem at once", () => {
    const construct = () =>
      new BudgetCallbackHandler({ quotas: [{ key: "u", limitUsd: -1, window: "year" }] as unknown as Quota[] });
    expect(construct).toThrow(
      'Invalid options for BudgetCallbackHandler:\n  - quotas[0].limitUsd: Expected a number of USD ≥ 0, or a plan (a function of the key\'s fields), got -1 (number)\n  - quotas[0].window: Invalid option: expected one of "day"|"week"|"month"|"total"',
    );
  });
});

describe("quotas that share a counter, and the run's store policy", () => {
  it("charges a counter once when two quotas name it, and holds to the tighter limit", async () => {
    server().setDefault({ usage: USAGE });
    const store = fixedStore();
    // Same key and window occurrence in both: one counter. The $0.001 one holds.
    const quotas: Quota[] = [USER, { ...USER, limitUsd: 0.001 }];
    const budget = new BudgetCallbackHandler({ quotas, store });

    await meteredModel(server()).invoke("hi", { callbacks: [budget], metadata: META });
    expect(await spentOf(store, "user:u1:day:2026-11-28")).toBe(CALL_NANO); // 450,000, not 900,000

    await meteredModel(server()).invoke("hi", { callbacks: [budget], metadata: META });
    const crossing = await rejectionOf(meteredModel(server()).invoke("hi", { callbacks: [budget], metadata: META }));
    expect(crossing).toMatchObject({ name: "BudgetExceededError", scope: "user:u1", limitUsd: 0.001, stop: "exceeded" });
  });

  it("never lets a later model loosen a per-run budget's fail-closed policy", async () => {
    server().setDefault({ usage: USAGE });
    const failing = fixedStore();
    vi.spyOn(failing, "check").mockRejectedValue(new Error("store down"));
    vi.spyOn(failing, "now").mockResolvedValue(NOW);
    const strict = new MeteredChatModel({ ...meteredFields(), budget: { quotas: [USER], store: failing, onStoreError: "deny" } });
    const lax = new MeteredChatModel({ ...meteredFields(), budget: { quotas: [USER], store: failing, onStoreError: "allow" } });
    const run = async () => {
      await strict.invoke("hi", { metadata: META }).catch(() => undefined);
      return lax.invoke("hi", { metadata: META });
    };
    const { RunnableLambda } = await import("@langchain/core/runnables");
    const error = await rejectionOf(RunnableLambda.from(run).invoke({}, { metadata: META }));
    expect(error).toMatchObject({ name: "BudgetStoreUnavailableError" });
    expect(server().requests).toHaveLength(0);
  });
});

function meteredFields() {
  return { model: "gpt-4o-mini", apiKey: "test", maxRetries: 0, configuration: { baseURL: server().url } };
}
