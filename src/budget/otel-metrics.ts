import type { CostRecord } from "./cost-record.js";

/**
 * OpenTelemetry metrics of every ended call, when the app registered a global meter provider (the SDK's
 * `metrics.setGlobalMeterProvider`, or `NodeSDK`); without one nothing happens and nothing is loaded. The
 * provider is found where `@opentelemetry/api` keeps it (its global registry under
 * `Symbol.for("opentelemetry.js.api.1")`), so this package needs no OpenTelemetry dependency of its own.
 *
 * - `gen_ai.client.token.usage` (histogram, `{token}`): the GenAI semantic conventions' token usage, one record
 *   per call and token type (`input`, `output`), with `gen_ai.operation.name`, `gen_ai.provider.name`,
 *   `gen_ai.request.model` and `gen_ai.response.model`.
 * - `langchain_metered.client.cost` (counter, `USD`): each call's cost (`response_metadata.cost.totalUsd`), same
 *   attributes.
 * - `langchain_metered.budget.decisions` (counter, `{call}`): calls a budget refused, clamped (hard cap), or that
 *   took it over its limit, by `langchain_metered.decision`.
 */
const OTEL_API = Symbol.for("opentelemetry.js.api.1");

type Attributes = Record<string, string>;
interface Instruments {
  tokens: { record(value: number, attributes: Attributes): void };
  cost: { add(value: number, attributes: Attributes): void };
  decisions: { add(value: number, attributes: Attributes): void };
}
interface MeterProviderLike {
  getMeter(name: string, version?: string): {
    createHistogram(name: string, options: object): Instruments["tokens"];
    createCounter(name: string, options: object): Instruments["cost"];
  };
}

/** Options of {@link configureMetrics}. */
export interface MetricsOptions {
  /**
   * Keys of the run's metadata (`{ metadata: { tenant: "acme" } }` on the call or the run) to add to every metric
   * as `langchain_metered.metadata.<key>`. Each distinct value is a time series of its own in Prometheus,
   * Datadog or Grafana: add only keys with a bounded number of values (a tenant, a plan), never a user or
   * request id at scale.
   */
  metadataAttributes?: readonly string[];
}

let metadataAttributes: readonly string[] = [];
let seen: { provider: MeterProviderLike; instruments: Instruments } | undefined;

/**
 * Configures the OpenTelemetry metrics this package records once the app registered a meter provider (see
 * the README, "OpenTelemetry metrics"). Metrics need no call to this: it only adds attributes.
 *
 * @example
 * ```ts
 * configureMetrics({ metadataAttributes: ["tenant"] }); // each tenant a series of its own: keep it bounded
 * ```
 */
export function configureMetrics(options: MetricsOptions): void {
  metadataAttributes = [...(options.metadataAttributes ?? [])];
}

/** GenAI semantic conventions' `gen_ai.provider.name` values, from genai-prices' provider ids. */
const PROVIDER_NAMES: Readonly<Record<string, string>> = {
  google: "gcp.gemini",
  azure: "azure.ai.openai",
  mistral: "mistral_ai",
  "x-ai": "x_ai",
};

function instruments(): Instruments | undefined {
  const provider = (globalThis as Record<symbol, { metrics?: MeterProviderLike } | undefined>)[OTEL_API]?.metrics;
  if (!provider || typeof provider.getMeter !== "function") return undefined;
  if (seen?.provider === provider) return seen.instruments;
  const meter = provider.getMeter("langchain-metered");
  const made: Instruments = {
    tokens: meter.createHistogram("gen_ai.client.token.usage", {
      description: "Number of input and output tokens used.",
      unit: "{token}",
      advice: { explicitBucketBoundaries: [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864] },
    }),
    cost: meter.createCounter("langchain_metered.client.cost", { description: "Cost of chat-model calls, as priced by langchain-metered.", unit: "USD" }),
    decisions: meter.createCounter("langchain_metered.budget.decisions", {
      description: "Chat-model calls a budget refused, clamped, or that took it over its limit.",
      unit: "{call}",
    }),
  };
  seen = { provider, instruments: made };
  return made;
}

/** What a call's metrics are attributed to. */
export interface MetricsCall {
  /** The model the call was sent for. */
  model: string;
  provider: string | undefined;
  metadata?: Record<string, unknown> | undefined;
}

function attributesOf(call: MetricsCall, responseModel?: string): Attributes {
  const attributes: Attributes = { "gen_ai.operation.name": "chat", "gen_ai.request.model": call.model };
  if (call.provider) attributes["gen_ai.provider.name"] = PROVIDER_NAMES[call.provider] ?? call.provider;
  if (responseModel) attributes["gen_ai.response.model"] = responseModel;
  for (const key of metadataAttributes) {
    const value = call.metadata?.[key];
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") attributes[`langchain_metered.metadata.${key}`] = String(value);
  }
  return attributes;
}

/** @internal Records an ended call's tokens, cost and (when it is one) its budget decision. Never throws. */
export function recordCallMetrics(call: MetricsCall, record: CostRecord): void {
  try {
    const meters = instruments();
    if (!meters) return;
    const attributes = attributesOf(call, record.cost.model);
    meters.tokens.record(record.usage.inputTokens, { ...attributes, "gen_ai.token.type": "input" });
    meters.tokens.record(record.usage.outputTokens, { ...attributes, "gen_ai.token.type": "output" });
    meters.cost.add(record.cost.totalUsd, attributes);
    const decision = record.budget?.decision;
    if (decision === "clamped" || decision === "exceeded") meters.decisions.add(1, { ...attributes, "langchain_metered.decision": decision });
  } catch {
    // A metrics pipeline that fails never fails a call.
  }
}

/** @internal Counts a call a budget refused before it was sent. Never throws. */
export function recordRefusal(call: MetricsCall): void {
  try {
    instruments()?.decisions.add(1, { ...attributesOf(call), "langchain_metered.decision": "refused" });
  } catch {
    // as above
  }
}
