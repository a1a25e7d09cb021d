import { callEndedError, type LimitState, type Refusal, type StoreLimit } from "../budget/store.js";

/**
 * How `RedisBudgetStore` makes one decision out of atomic pieces ("units"). A unit is a set of limits whose
 * keys live in one slot, with its own marker of ended calls; each script runs atomically over one unit.
 *
 * - **One Redis**: one unit holds every limit of the call, so each decision is one script (the fast path).
 * - **Redis Cluster**: a call's limits live in different slots (`user:u1:…` and `tenant:acme:…`), and one
 *   script can't touch two slots. Each limit is a unit of its own (its keys share a hash tag), and:
 *   - `check`, `settle` and `release` run on every unit at once; settle and release count once *per unit and
 *     call id* (each unit remembers the calls that ended in it), so a retry after a partial failure completes
 *     the missing units and changes nothing in the others;
 *   - `reserve` holds unit by unit, in one fixed order (by key, the same in every worker, so two calls
 *     contending for the same limits meet at the first one instead of each holding what the other needs).
 *     When a unit refuses, the units already held are undone (each gets back exactly what the call had there
 *     before), and the units not reached are probed, so the refusal names the first limit in the caller's
 *     order that can't take the call, and the answer's states are all "as if nothing was held".
 *
 * Why no limit is ever overspent: each unit's reserve is atomic and checks that unit's own room, so a limit
 * can't promise more than it has, whatever happens in other slots. The cost of composing is only ever a
 * refusal too many: while call A holds limit X on its way to Y, a call B that needs X's last room is refused,
 * though A may end up refused by Y and undo.
 *
 * Failure cases (a worker dies, or Redis fails, midway):
 * - between two units' reserves, or mid-undo: the holds made stay until their TTL, and are then charged at
 *   their worst case, like the hold of any worker that died mid-call; a log replay corrects them.
 * - a settle or release that reached some units only: the call's caller redelivers it (`QuotaSide`); the
 *   units it had reached answer "already ended" and change nothing.
 * - a primary failing over: Redis replicates asynchronously, so the last writes a primary acknowledged can
 *   be lost with it (Redis Cluster documents this). A lost settle leaves the hold, which is charged at its
 *   worst case when it expires (over, never under); a lost hold leaves room to other calls until its call
 *   settles, so a limit can be overspent by at most what was held in that slot in the instant of the
 *   failover. Run budgets are unaffected (they are in the worker's memory).
 */
export interface Unit {
  /** Its limits, each with its position in the caller's list. */
  limits: ReadonlyArray<{ limit: StoreLimit; at: number }>;
  /** The script's KEYS: five per limit (see `redis-scripts.ts`). */
  keys: string[];
  /** The key that marks call `callId` ended in this unit (`check` needs none). */
  marker: (callId: string) => string;
}

/** Runs one script on one unit. */
export type RunScript = (
  script: "check" | "reserve" | "undo" | "settle" | "release",
  unit: Unit,
  callId: string,
  amountNano: number,
  ttlMs: number,
  extra?: readonly string[],
) => Promise<Reply>;

/** A script's reply, as Redis sent it. */
type Reply = Array<number | string>;

/** The states of every limit (in the caller's order) from each unit's reply (checked by `checked`). */
function merge(count: number, parts: ReadonlyArray<{ unit: Unit; reply: Reply }>): LimitState[] {
  const states = new Array<LimitState>(count);
  for (const { unit, reply } of parts) {
    unit.limits.forEach(({ limit, at }, i) => {
      states[at] = { key: limit.key, limitNano: limit.limitNano, spentNano: Number(reply[1 + 2 * i]), reservedNano: Number(reply[2 + 2 * i]) };
    });
  }
  return states;
}

/**
 * `reply`, once it is the shape this version's scripts answer for `unit`: a flag, then spent and reserved per
 * limit, then (a reserve that held) what the call had before, three values per limit.
 */
function checked(unit: Unit, reply: Reply, { held = false } = {}): Reply {
  const length = (1 + 2 * unit.limits.length) + (held ? 3 * unit.limits.length : 0);
  if (!Array.isArray(reply) || reply.length !== length) {
    throw new Error(
      `RedisBudgetStore: expected a script reply of ${length} values, got ${JSON.stringify(reply)}. ` +
        "Another version of langchain-metered may share this Redis prefix; give each its own `prefix`.",
    );
  }
  return reply;
}

/** The limit (in the caller's order) a unit's reply refused, if any. */
function refusedIn(unit: Unit, reply: Reply): number | undefined {
  return unit.limits[Number(reply[0]) - 1]?.at;
}

function withRefusal(states: LimitState[], refusedAt: number | undefined): { states: LimitState[] } & Partial<Refusal> {
  const refused = refusedAt === undefined ? undefined : states[refusedAt];
  return refused ? { states, refused } : { states };
}

/** `check` over every unit at once; refused by the first spent limit in the caller's order. */
export async function checkUnits(units: readonly Unit[], count: number, run: RunScript) {
  const states = merge(count, await Promise.all(units.map(async (unit) => ({ unit, reply: await stateOf(unit, run) }))));
  return withRefusal(states, firstIndex(states, (state) => state.spentNano >= state.limitNano));
}

/** `settle` (or `release`: cost 0) in every unit at once; the states after it. */
export async function endUnits(kind: "settle" | "release", units: readonly Unit[], count: number, callId: string, costNano: number, run: RunScript) {
  const parts = await Promise.all(units.map(async (unit) => ({ unit, reply: checked(unit, await run(kind, unit, callId, costNano, 0)) })));
  return merge(count, parts);
}

/**
 * `reserve` unit by unit, in the units' order; all or nothing (see the module's comment). Throws the
 * "already ended" `RangeError` when a unit says the call has ended, after undoing the units it had held.
 */
export async function reserveUnits(units: readonly Unit[], count: number, callId: string, amountNano: number, ttlMs: number, run: RunScript) {
  const held: Array<{ unit: Unit; reply: Reply }> = [];
  for (const [i, unit] of units.entries()) {
    const reply = await run("reserve", unit, callId, amountNano, ttlMs);
    if (reply[0] === -1) {
      await undo(held, callId, run);
      throw callEndedError(callId);
    }
    const refusedAt = refusedIn(unit, reply);
    if (refusedAt === undefined) {
      held.push({ unit, reply: checked(unit, reply, { held: true }) });
      continue;
    }
    checked(unit, reply);
    // Refused here: give back what the earlier units hold, and probe the ones not reached.
    const [undone, probed] = await Promise.all([undo(held, callId, run), probe(units.slice(i + 1), callId, amountNano, run)]);
    const states = merge(count, [...undone, { unit, reply }, ...probed]);
    const refusals = [refusedAt, ...probed.map(({ unit: u, reply: r }) => refusedIn(u, r)).filter((at) => at !== undefined)];
    return withRefusal(states, Math.min(...refusals));
  }
  // Each unit's states right after its own hold.
  return { states: merge(count, held) };
}

async function stateOf(unit: Unit, run: RunScript): Promise<Reply> {
  return checked(unit, await run("check", unit, "", 0, 0));
}

/** Takes back each held unit's reserve, giving it what the call had there before (the tail of its reserve's reply). */
function undo(held: ReadonlyArray<{ unit: Unit; reply: Reply }>, callId: string, run: RunScript) {
  return Promise.all(
    held.map(async ({ unit, reply }) => {
      const before = reply.slice(1 + 2 * unit.limits.length).map(String);
      return { unit, reply: checked(unit, await run("undo", unit, callId, 0, 0, before)) };
    }),
  );
}

/** Whether each unit could take the call now (a reserve with TTL 0 holds nothing). */
function probe(units: readonly Unit[], callId: string, amountNano: number, run: RunScript) {
  return Promise.all(
    units.map(async (unit) => {
      const reply = await run("reserve", unit, callId, amountNano, 0);
      // The call ended in a unit not reached: nothing to hold there anyway; read its state.
      return { unit, reply: reply[0] === -1 ? await stateOf(unit, run) : checked(unit, reply) };
    }),
  );
}

function firstIndex<T>(items: readonly T[], test: (item: T) => boolean): number | undefined {
  const index = items.findIndex(test);
  return index === -1 ? undefined : index;
}
