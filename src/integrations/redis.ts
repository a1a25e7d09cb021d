import { Redis, type RedisOptions } from "ioredis";
import type { BudgetStore, LimitState, Refusal, StoreLimit } from "../budget/store.js";
import { CHECK, RELEASE, RESERVE, SETTLE } from "./redis-scripts.js";

/** Options of {@link RedisBudgetStore}. */
export interface RedisBudgetStoreOptions {
  /** A Redis URL (`redis://host:6379/0`). Ignored when `client` is given. */
  url?: string;
  /** Your own ioredis client; its retry and timeout settings are then yours too. */
  client?: Redis;
  /** Prefix of every key the store writes. Default `"lcm:"`. */
  prefix?: string;
  /** How long one store operation may take before the call is refused (or allowed, per policy). Default 1000 ms. */
  timeoutMs?: number;
  /** How long a settled call id is remembered, so a retried settle counts once. Default 24 hours. */
  settledTtlMs?: number;
}

type ScriptReply = number[];

const SCRIPTS = { lcmCheck: CHECK, lcmReserve: RESERVE, lcmSettle: SETTLE, lcmRelease: RELEASE } as const;

/** How often the store re-reads Redis' clock; windows roll over by it, so every worker agrees. */
const CLOCK_REFRESH_MS = 30_000;

/**
 * A `BudgetStore` on Redis, for quotas shared by a fleet of workers. Each check, hold and settlement is one
 * Lua script over all the limits of a call, atomic in Redis; spend is an integer count of nano-USD; holds
 * expire (a crashed worker doesn't block a tenant); window counters expire after their window; a call id
 * settles once. Failing to reach Redis fails the call closed (see `onStoreError`).
 *
 * @example
 * ```ts
 * import { RedisBudgetStore } from "langchain-metered/redis";
 * const store = new RedisBudgetStore({ url: process.env.REDIS_URL });
 * new BudgetCallbackHandler({ quotas: [{ key: "tenant:{tenant_id}", limitUsd: 500, window: "month" }], store });
 * ```
 */
export class RedisBudgetStore implements BudgetStore {
  /** The ioredis client (close it with `close()`). */
  readonly client: Redis;
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly settledTtlMs: number;
  private clock: { offsetMs: number; readAt: number } | undefined;

  constructor(options: RedisBudgetStoreOptions = {}) {
    this.prefix = options.prefix ?? "lcm:";
    this.timeoutMs = options.timeoutMs ?? 1000;
    this.settledTtlMs = options.settledTtlMs ?? 24 * 60 * 60 * 1000;
    this.client = options.client ?? new Redis(options.url ?? "redis://127.0.0.1:6379", failFast(this.timeoutMs));
    // Without a listener, ioredis reports a lost connection as an unhandled 'error' event.
    if (!options.client) this.client.on("error", () => {});
    // EVALSHA, falling back to EVAL when Redis hasn't seen a script yet (ioredis does the dance).
    for (const [name, lua] of Object.entries(SCRIPTS)) this.client.defineCommand(name, { lua });
  }

  async now(): Promise<number> {
    const local = Date.now();
    if (!this.clock || local - this.clock.readAt > CLOCK_REFRESH_MS) {
      const [seconds, micros] = await this.run(() => this.client.time());
      const after = Date.now();
      const redisMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      // Whole milliseconds: the midpoint of two readings can fall on a half.
      this.clock = { offsetMs: Math.round(redisMs - (local + after) / 2), readAt: after };
    }
    return Date.now() + this.clock.offsetMs;
  }

  async check(limits: readonly StoreLimit[]) {
    const reply = await this.eval("lcmCheck", this.keys(limits), limits.map((l) => l.limitNano));
    return this.answer(limits, reply);
  }

  async reserve(callId: string, limits: readonly StoreLimit[], amountNano: number, ttlMs: number): Promise<Partial<Refusal>> {
    const args = [...limits.map((l) => l.limitNano), callId, amountNano, ttlMs, ...limits.map((l) => l.expiresAt ?? 0)];
    const { refused } = this.answer(limits, await this.eval("lcmReserve", this.keys(limits), args));
    return refused ? { refused } : {};
  }

  async settle(callId: string, limits: readonly StoreLimit[], costNano: number): Promise<LimitState[]> {
    const keys = [...this.keys(limits), `${this.prefix}settled:${callId}`];
    const args = [...limits.map((l) => l.limitNano), callId, costNano, this.settledTtlMs, ...limits.map((l) => l.expiresAt ?? 0)];
    return this.answer(limits, await this.eval("lcmSettle", keys, args)).states;
  }

  async release(callId: string, limits: readonly StoreLimit[]): Promise<void> {
    await this.eval("lcmRelease", this.keys(limits), [callId]);
  }

  /** Closes the connection without waiting for pending replies. */
  async close(): Promise<void> {
    this.client.disconnect();
  }

  private keys(limits: readonly StoreLimit[]): string[] {
    return limits.flatMap(({ key }) => [`${this.prefix}${key}`, `${this.prefix}${key}:holds`, `${this.prefix}${key}:exp`]);
  }

  private answer(limits: readonly StoreLimit[], reply: ScriptReply): { states: LimitState[] } & Partial<Refusal> {
    const states = limits.map((limit, i) => ({
      key: limit.key,
      limitNano: limit.limitNano,
      spentNano: Number(reply[1 + 2 * i]),
      reservedNano: Number(reply[2 + 2 * i]),
    }));
    const refused = states[Number(reply[0]) - 1];
    return refused ? { states, refused } : { states };
  }

  private eval(script: keyof typeof SCRIPTS, keys: string[], args: Array<string | number>): Promise<ScriptReply> {
    const command = (this.client as unknown as Record<string, (...a: Array<string | number>) => Promise<ScriptReply>>)[script];
    if (!command) throw new Error(`RedisBudgetStore: script ${script} is not defined on the client`);
    return this.run(() => command.call(this.client, keys.length, ...keys, ...args));
  }

  /** One operation under the store's own deadline, whatever the client's settings. */
  private async run<T>(operation: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      return await Promise.race([operation(), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** ioredis settings that make a dead Redis an error at once, not a queue that waits forever. */
function failFast(timeoutMs: number): RedisOptions {
  return {
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: true,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  };
}
