import { stampRetryable } from "@langchain/core/errors";
import { hasMarker, MeteredError } from "../errors.js";

/**
 * How a failed call ended, as far as the bill is concerned: a provider that answered with an error status
 * (or a request that never left) billed nothing; anything else after the request was sent (a broken
 * connection, a timeout, an abort, an answer that isn't one) may have been billed.
 */

type Loose = { name?: unknown; message?: unknown; status?: unknown; code?: unknown; cause?: unknown } | null;

/** Connection errors that mean the request never reached the provider. */
const NEVER_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ENETUNREACH", "EHOSTUNREACH", "UND_ERR_CONNECT_TIMEOUT"]);

/** @internal Whether a failed call certainly billed nothing: an error status from the provider, or no connection. */
export function billedNothing(error: unknown): boolean {
  for (let e = error as Loose, depth = 0; e && typeof e === "object" && depth < 4; e = e.cause as Loose, depth++) {
    if (typeof e.status === "number" && e.status >= 400) return true;
    if (e.name === "ContextOverflowError") return true;
    if (typeof e.code === "string" && NEVER_SENT.has(e.code)) return true;
  }
  return false;
}

/** @internal Whether an error is what an aborted request or stream throws (the shapes differ by path and SDK). */
export function isAbortError(error: unknown): boolean {
  const e = error as Loose;
  if (typeof e !== "object" || e === null) return false;
  const { name, message } = e;
  return (
    name === "AbortError" ||
    name === "APIUserAbortError" ||
    name === "ModelAbortError" ||
    (typeof message === "string" && (message === "AbortError" || message.startsWith("Aborted") || message.includes("aborted")))
  );
}

/**
 * @internal Whether an error is what a model throws on an answer that isn't one (HTML, empty, `{}`,
 * malformed server-sent events): a parse or shape error, not a connection that broke (undici's
 * `TypeError: terminated`).
 */
export function isMalformedAnswer(error: unknown): boolean {
  if (!(error instanceof TypeError || error instanceof SyntaxError)) return false;
  const cause = (error as { cause?: { code?: unknown } }).cause;
  return !(error.message === "terminated" || (typeof cause?.code === "string" && cause.code.startsWith("UND_ERR")));
}

const providerResponseMarker = Symbol.for("langchain-metered.ProviderResponseError");

/**
 * The provider (or a proxy in front of it) answered a call with something that isn't an answer: an HTML
 * error page, an empty body, `{}`, a stream with no message. The call may have been billed, so it was
 * charged a conservative estimate; the error says who answered what.
 */
export class ProviderResponseError extends MeteredError {
  private readonly [providerResponseMarker] = true;
  readonly model: string;
  readonly provider: string | undefined;

  constructor(fields: { model: string; provider: string | undefined; what: string; cause?: unknown }) {
    const who = fields.provider ? `The ${fields.provider} endpoint` : "The endpoint";
    const reason = fields.cause instanceof Error ? ` (${fields.cause.message})` : "";
    super(
      `${who} answered a successful HTTP status for model "${fields.model}" but ${fields.what}${reason}. A proxy or ` +
        "gateway in front of the provider may have replaced its answer. The call was charged a conservative estimate, " +
        "since the provider may have billed it.",
      { cause: fields.cause },
    );
    this.model = fields.model;
    this.provider = fields.provider;
    // A proxy's error page or a truncated answer may not come back: worth another attempt (each one charged).
    stampRetryable(this, true);
  }

  static override isInstance(error: unknown): error is ProviderResponseError {
    return hasMarker(error, providerResponseMarker);
  }
}
