/**
 * LangChain's ChatOpenAI never shows a response's headers (`__includeRawResponse` keeps the body only), but a
 * LiteLLM proxy states a call's cost in one. So MeteredChatModel's client fetches through `capturingFetch`:
 * a call tags its request with a one-off id header (removed before it is sent), and the fetch files that
 * response's headers under the id for the call to read.
 */
const CALL_HEADER = "x-langchain-metered-call";
const WRAPPED = Symbol.for("langchain-metered.capturingFetch");
const waiting = new Map<string, { headers?: Headers }>();
/** Ids only need to be unique within this process, for as long as a call is in flight. */
let captures = 0;

type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** @internal A fetch that files the response headers of tagged requests; idempotent. */
export function capturingFetch(inner?: Fetch): Fetch {
  if (inner && (inner as unknown as Record<symbol, unknown>)[WRAPPED]) return inner;
  const wrapped: Fetch = async (input, init) => {
    const send = inner ?? globalThis.fetch;
    const headers = new Headers(init?.headers);
    const id = headers.get(CALL_HEADER);
    if (!id) return send(input, init);
    headers.delete(CALL_HEADER);
    const response = await send(input, { ...init, headers });
    const slot = waiting.get(id);
    if (slot) slot.headers = response.headers;
    return response;
  };
  (wrapped as unknown as Record<symbol, unknown>)[WRAPPED] = true;
  return wrapped;
}

/** @internal One call's claim on its response headers. */
export class HeaderCapture {
  private readonly id = `c${++captures}`;
  private readonly slot: { headers?: Headers } = {};

  constructor() {
    waiting.set(this.id, this.slot);
  }

  /** The call's options, tagged so the capturing fetch files its response headers (invoke and stream paths). */
  tag<T extends Record<string, unknown>>(options: T): T {
    const sdk = (options.options ?? {}) as { headers?: Record<string, string> };
    const headers = { ...(options.headers as Record<string, string> | undefined), [CALL_HEADER]: this.id };
    return { ...options, headers, options: { ...sdk, headers: { ...sdk.headers, [CALL_HEADER]: this.id } } };
  }

  /** The response headers, once the response arrived. */
  get headers(): Headers | undefined {
    return this.slot.headers;
  }

  /** Releases the claim (always call it, in a `finally`). */
  close(): void {
    waiting.delete(this.id);
  }
}
