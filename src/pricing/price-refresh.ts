import { REMOTE_DATA_JSON_URL, type StorageFactoryParams, updatePrices } from "@pydantic/genai-prices";
import { genaiPriceDataChanged, setBeforeGenaiLookup } from "./genai-prices.js";

/** Price data as kept between runs: genai-prices' provider data, the version it is known by, when it was fetched. */
export interface StoredPriceData {
  /** genai-prices' `data.json` (an array of providers), as fetched. */
  data: unknown;
  /** Named in each cost's `priceSource` (`genai-prices@0.1.8+data-<version>`). */
  version: string;
  /** When it was fetched, in ms since the epoch. */
  fetchedAt: number;
}

/** Where fetched price data is kept between runs (a file, a key in Redis, …). */
export interface PriceDataStore {
  load(): Promise<StoredPriceData | null | undefined>;
  save(entry: StoredPriceData): Promise<void>;
}

/** Options of {@link refreshPrices}. */
export interface RefreshPricesOptions {
  /**
   * Fetches genai-prices' data from `url` and returns the parsed JSON. You supply the network access, e.g.
   * `async (url) => (await fetch(url)).json()`.
   */
  fetch: (url: string) => Promise<unknown>;
  /** Where to keep fetched data, so a restart doesn't fetch again. Default: kept in memory only. */
  store?: PriceDataStore;
  /** Data older than this is fetched again, in the background, at the next lookup. Default 24 hours. */
  maxAgeMs?: number;
  /** After a failed fetch, wait this long before trying again. Default 60 seconds. */
  retryAfterMs?: number;
  /** Default: genai-prices' `REMOTE_DATA_JSON_URL` (its `data.json` on GitHub). */
  url?: string;
  /** Hears of every failed load, fetch or save; the data in use stays. Default: `console.warn`. */
  onError?: (error: unknown) => void;
  /** The clock, in ms (for tests). Default `Date.now`. */
  now?: () => number;
}

/** A running refresh of genai-prices' data, from {@link refreshPrices}. */
export interface PriceRefresher {
  /** Settles once the first data (stored, else fetched) is in use, or has failed (see `onError`). Never rejects. */
  readonly ready: Promise<void>;
  /** Fetches and applies fresh data now; rejects when that fails (the data in use stays). */
  refresh(): Promise<void>;
  /** Stops refreshing. The data in use stays. */
  stop(): void;
}

const DAY_MS = 24 * 60 * 60 * 1000;
let active: { stop(): void } | undefined;

/**
 * Opt-in: keeps genai-prices' price data fresh at run time instead of using the data bundled with the
 * pinned release. Off unless called. Stored data is applied first (if any), data older than `maxAgeMs` is
 * fetched again in the background when prices are next looked up, and each cost names the data it was
 * priced with in `priceSource`. Only one refresher is active in a process; a new one stops the previous.
 *
 * @example
 * ```ts
 * const prices = refreshPrices({ fetch: async (url) => (await fetch(url)).json(), store: fileStore("prices.json") });
 * await prices.ready; // costs now say priceSource: "genai-prices@0.1.8+data-2025-…"
 * ```
 */
export function refreshPrices(options: RefreshPricesOptions): PriceRefresher {
  active?.stop();
  const now = options.now ?? Date.now;
  const maxAgeMs = options.maxAgeMs ?? DAY_MS;
  const retryAfterMs = options.retryAfterMs ?? 60_000;
  const report =
    options.onError ?? ((error: unknown) => console.warn("langchain-metered: price refresh failed; keeping the data in use.", error));
  let genai: StorageFactoryParams | undefined;
  updatePrices((params: StorageFactoryParams) => void (genai = params));
  if (!genai) throw new Error("genai-prices did not hand over its storage parameters.");
  const url = options.url ?? genai.remoteDataUrl ?? REMOTE_DATA_JSON_URL;
  let stopped = false;
  let nextCheckAt = Number.POSITIVE_INFINITY; // no background refresh until the first load settles
  let inFlight: Promise<void> | undefined;

  const apply = (entry: StoredPriceData) => {
    assertProviderData(entry.data, url);
    genai?.setProviderData(entry.data as Parameters<StorageFactoryParams["setProviderData"]>[0]);
    genaiPriceDataChanged(entry.version);
    nextCheckAt = entry.fetchedAt + maxAgeMs;
  };

  const refresh = (): Promise<void> => {
    // `finally` chained after the assignment: a fetch that throws synchronously settles the attempt before
    // `inFlight` is even set, and clearing it inside would leave the failed attempt "in flight" for good.
    inFlight ??= (async () => {
      try {
        const fetchedAt = now();
        const data = await options.fetch(url);
        if (stopped) return;
        const entry = { data, version: new Date(fetchedAt).toISOString(), fetchedAt };
        apply(entry);
        await Promise.resolve(options.store?.save(entry)).catch(report);
      } catch (error) {
        nextCheckAt = now() + retryAfterMs;
        throw error;
      }
    })().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };

  // Lookups are cached on our side, so genai-prices' `onCalc` alone would rarely fire: check on ours too.
  const check = () => {
    if (!stopped && !inFlight && now() >= nextCheckAt) refresh().catch(report);
  };
  genai.onCalc(check);
  setBeforeGenaiLookup(check);

  const ready = (async () => {
    try {
      const stored = await options.store?.load();
      if (stored) apply(stored);
    } catch (error) {
      report(error);
    }
    if (now() >= nextCheckAt || nextCheckAt === Number.POSITIVE_INFINITY) await refresh().catch(report);
  })();

  const refresher: PriceRefresher = {
    ready,
    refresh,
    stop() {
      stopped = true;
      setBeforeGenaiLookup(undefined);
      genai?.onCalc(() => {});
      if (active === refresher) active = undefined;
    },
  };
  active = refresher;
  return refresher;
}

function assertProviderData(data: unknown, url: string): void {
  const ok =
    Array.isArray(data) &&
    data.length > 0 &&
    data.every((p) => typeof p === "object" && p !== null && typeof p.id === "string" && Array.isArray(p.models));
  if (!ok) throw new TypeError(`Price data from ${url} is not genai-prices provider data (expected a non-empty array of providers).`);
}
