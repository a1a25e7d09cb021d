import { registerRunBudget } from "./budget/run-budget.js";

// The per-run default budget: LangChain creates one budget handler per root run from here on.
registerRunBudget();

export { MeteredError } from "./errors.js";
export { MeteredChatModel, type MeteredChatModelFields, type MeteringFields } from "./model/metered-chat-model.js";
export { meter, MeteredModel, type MeterOptions } from "./model/meter.js";
export type { BudgetOption, DowngradeOption } from "./model/call-budget.js";
export { BudgetCallbackHandler, type BudgetCallbackHandlerOptions } from "./budget/budget-handler.js";
export { BudgetExceededError, BudgetStoreUnavailableError, QuotaKeyError, type BudgetStop } from "./budget/errors.js";
export type { Quota } from "./budget/quotas.js";
export type { QuotaWindow } from "./budget/windows.js";
export type { BudgetStore, LimitState, Refusal, StoreLimit } from "./budget/store.js";
export { InMemoryBudgetStore } from "./budget/memory-store.js";
export { JsonlMeterSink, type MeterEntry, type MeterSink } from "./budget/meter-sink.js";
export type { StoreErrorPolicy } from "./budget/spending.js";
export { RUN_BUDGET_ENV } from "./budget/run-budget.js";
export { withBudget } from "./budget/with-budget.js";
export type { BudgetDecision, BudgetView } from "./budget/cost-record.js";
export { DEFAULT_MAX_OUTPUT_TOKENS, type CallPlan } from "./budget/hard-cap.js";
export { INPUT_SAFETY_MARGIN, MIN_USEFUL_OUTPUT_TOKENS } from "./budget/worst-case.js";
export type { CostRecord } from "./budget/cost-record.js";
export { priceUsage, type Cost, type CostSource, type PriceUsageOptions } from "./pricing/price-usage.js";
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
export type { UsageFamily } from "./usage/providers.js";
