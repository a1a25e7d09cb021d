// The public surface. Nothing here runs at import: no environment writes, no hooks, no LangChain code
// (see "How budgets find their run" in the README).
export { InvalidOptionsError, MeteredError } from "./errors.js";
export { MeteredChatModel, type MeteredChatModelFields } from "./model/metered-chat-model.js";
export type { BudgetOption, MeteringFields } from "./model/metering-fields.js";
export { meter, MeteredModel, type MeterOptions } from "./model/meter.js";
export { costOf } from "./model/cost-of.js";
export { meteredImportMap } from "./model/import-map.js";
export { configureMetrics, type MetricsOptions } from "./budget/otel-metrics.js";
export type { QuotaStatus } from "./budget/quota-status.js";
export type { BudgetEvent, ThresholdAlert } from "./budget/alerts.js";
export { trackCost, type TrackedCost } from "./langchain/cost-tracker.js";
export { estimateCost, type CostEstimate, type EstimateCostOptions } from "./langchain/estimate-cost.js";
export type { DowngradeOption } from "./model/downgrade.js";
export { ProviderResponseError } from "./langchain/call-errors.js";
export { BudgetCallbackHandler, type BudgetCallbackHandlerOptions } from "./scope/budget-handler.js";
export { withBudget, type Invocable } from "./scope/with-budget.js";
export type { BudgetOptions, StoreErrorPolicy } from "./budget/settings.js";
export {
  BudgetExceededError,
  BudgetStoreUnavailableError,
  QuotaKeyError,
  type BudgetStop,
  type BudgetStopFields,
} from "./budget/errors.js";
export type { Quota, QuotaPlan } from "./budget/quotas.js";
export type { QuotaWindow } from "./budget/windows.js";
export type { BudgetStore, LimitState, Refusal, StoreLimit } from "./budget/store.js";
export { InMemoryBudgetStore } from "./budget/memory-store.js";
export { pendingStoreEnds } from "./budget/quota-side.js";
export type { MeterEntry, MeterSink } from "./budget/meter-sink.js";
export type { BudgetDecision, BudgetView, CostRecord } from "./budget/cost-record.js";
export { DEFAULT_MAX_OUTPUT_TOKENS, INPUT_SAFETY_MARGIN, MIN_USEFUL_OUTPUT_TOKENS, type CallPlan } from "./budget/plan.js";
export { priceUsage, type Cost, type CostSource, type EstimatedUsage, type EstimateReason, type MissingRate, type PriceUsageOptions } from "./pricing/price-usage.js";
export { LITELLM_COST_HEADER } from "./pricing/reported-cost.js";
export { providerFromBaseUrl } from "./pricing/providers.js";
export {
  refreshPrices,
  type PriceDataStore,
  type PriceRefresher,
  type RefreshPricesOptions,
  type StoredPriceData,
} from "./pricing/price-refresh.js";
export type { CostKey } from "./pricing/cost.js";
export type { PriceSource } from "./pricing/catalog.js";
export type { ModelPrice, Rate } from "./pricing/model-price.js";
export type { PriceOverrides } from "./pricing/overrides.js";
export { UnknownModelPriceError, PriceOverrideError } from "./pricing/errors.js";
export { GENAI_PRICES_VERSION } from "./pricing/genai-prices.js";
export { normalizeUsage, type Usage } from "./usage/usage.js";
export { InvalidUsageError } from "./usage/validate.js";
export type { UsageFamily } from "./usage/providers.js";
