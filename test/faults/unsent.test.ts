/**
 * A call whose caller gives up before it is sent is never sent (the OpenAI SDK refuses an aborted signal
 * before any request), so it is released, not charged: under a hard cap, charging it its whole hold as if it
 * had been cut short on the wire would spend budget the provider never billed.
 *
 * - A plain model under a hard-capped handler waits for room while a sibling holds it; its caller's signal
 *   ends the wait at once (it used to wait for the sibling, then was charged its hold, unsent).
 * - A metered model's caller aborts while the call's hold is being placed (a slow store): the call is not sent
 *   and not charged (it used to be charged its whole hold).
 *
 * Figures: "Hello" with max tokens 100 holds 41 × 150 + 100 × 600 = 66,150 nano-USD (support.ts); a limit of
 * 100,000 fits one such hold at a time.
 */
import { afterAll, beforeAll, beforeEach, expect, it, vi } from "vitest";
import { InMemoryBudgetStore, type LimitState, type StoreLimit } from "../../src/index.js";
import { type FakeOpenAI, startFakeOpenAI } from "../support/openai-server.js";
import { call, FULL_NANO, HOLD_NANO, quietHandlerErrors, reply, settledAudit, storeState, until, warmTokenizer, within, world } from "./support.js";

let server: FakeOpenAI;
beforeAll(async () => {
  await warmTokenizer();
  quietHandlerErrors();
  server = await startFakeOpenAI();
}, 30_000);
afterAll(async () => {
  vi.restoreAllMocks();
  await server?.close();
});
beforeEach(() => {
  server.reset();
  server.setDefault(reply());
});

it.each(["invoke", "stream"] as const)("plain model, hard cap (%s): a call waiting for room ends at its caller's abort, unsent and unpaid", async (mode) => {
  // The sibling holds the room for ~400 ms (a stream waits before each of its 53 events).
  server.script(reply({ chunkDelayMs: mode === "invoke" ? 400 : 8 }));
  const w = world(server, { api: "chat", mode, budgeting: "plain-cap" }, {}, { limitUsd: 0.0001 });
  const sibling = call(w);
  await until(() => server.requests.length === 1);
  const controller = new AbortController();
  const started = Date.now();
  const waiting = call(w, { signal: controller.signal });
  setTimeout(() => controller.abort(new Error("caller gave up")), 50);
  const waited = await within(waiting, 2_000, "the waiting call");
  const waitedMs = Date.now() - started;
  expect((waited.error as Error | undefined)?.message).toBe("caller gave up");
  expect(waitedMs).toBeLessThan(300); // not until the sibling's hold ended
  expect((await sibling).error).toBeUndefined();

  const a = await settledAudit(server, w);
  expect(server.requests).toHaveLength(1); // the waiting call was never sent
  expect({ lines: a.lines, records: a.records, charged: a.linesNano, held: a.handlerHeldNano + a.storeHeldNano }).toEqual({
    lines: 1,
    records: 1,
    charged: FULL_NANO, // the sibling's answer: 8 × 150 + 50 × 600
    held: 0,
  });
});

/** A store whose holds take 100 ms to place (a remote store under load). */
class SlowHolds extends InMemoryBudgetStore {
  override async reserve(callId: string, limits: readonly StoreLimit[], amountNano: number, ttlMs: number): Promise<{ states: LimitState[]; refused?: LimitState }> {
    await new Promise((resolve) => setTimeout(resolve, 100));
    return super.reserve(callId, limits, amountNano, ttlMs);
  }
}

it.each(["invoke", "stream"] as const)("metered model, hard cap (%s): a caller that aborts while the hold is placed sends and pays nothing", async (mode) => {
  const store = new SlowHolds();
  const w = world(server, { api: "chat", mode, budgeting: "own-cap" }, {}, { store });
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error("caller gave up")), 30);
  const outcome = await within(call(w, { signal: controller.signal }), 2_000, "the call");
  expect(outcome.error).toBeDefined();
  await new Promise((resolve) => setTimeout(resolve, 200)); // the library's end of the call, after the caller's
  expect(server.requests).toHaveLength(0);
  expect(w.onCost).toHaveLength(0);
  expect(w.sink.charged()).toHaveLength(0);
  expect(await storeState(store)).toEqual({ spentNano: 0, reservedNano: 0 });

  // The same call, not aborted, is sent and charged as usual.
  const next = await within(call(w), 2_000, "the next call");
  expect(next.error).toBeUndefined();
  expect(await storeState(store)).toEqual({ spentNano: FULL_NANO, reservedNano: 0 });
  expect(HOLD_NANO).toBeGreaterThan(FULL_NANO);
});
