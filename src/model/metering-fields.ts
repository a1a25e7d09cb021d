import type { CostRecord } from "../budget/cost-record.js";
import { catalogFor, type PriceCatalog } from "../pricing/catalog.js";
import type { PriceOverrides } from "../pricing/overrides.js";
import type { CostSource } from "../pricing/price-usage.js";
import { type BudgetOption, CallBudget } from "./call-budget.js";
import { type BoundTarget, Downgrade } from "./downgrade.js";
import { Metering } from "./metering.js";
import type { HeaderCapture } from "./response-headers.js";

/** Metering options, the same for `MeteredChatModel` and `meter()`. */
export interface MeteringFields {
  /** Prices that add to or replace genai-prices' data, keyed by model name, in USD per 1M tokens. */
  prices?: PriceOverrides;
  /** Called with every priced call, after its cost is known (for a metering log or a dashboard). */
  onCost?: (record: CostRecord) => void;
  /**
   * The budget of each run this model takes part in: `{ limitUsd }` (default `{ limitUsd: 2 }`), with an
   * optional `hardCap` and `downgrade`, or `false` to meter without a limit. A `BudgetCallbackHandler`
   * passed in the run's callbacks is used instead (its spend then decides the downgrade).
   */
  budget?: BudgetOption;
  /**
   * Which cost a budget counts when the endpoint states its own (OpenRouter's `usage.cost`, a LiteLLM
   * proxy's `x-litellm-response-cost`): `"ours"` (default) or `"reported"`. Each cost keeps both.
   */
  costSource?: CostSource;
  /**
   * The genai-prices provider whose prices apply ("groq", "deepseek", "openrouter", "azure", …), when
   * neither LangChain's `ls_provider` nor the base URL says (a proxy on your own host).
   */
  provider?: string;
}

/** @internal What a metered model builds from its metering fields. */
export interface MeteringParts {
  catalog: PriceCatalog;
  budget: CallBudget;
  metering: Metering;
}

/**
 * @internal Validates metering fields and builds the metering core. `primaryApi` is the model's
 * `_llmType()` and `byName` builds a same-API model for a downgrade given by name.
 */
export function buildMetering(
  fields: MeteringFields,
  primaryApi: string,
  byName: (model: string) => BoundTarget,
  captureHeaders?: () => HeaderCapture,
): MeteringParts {
  const catalog = catalogFor(fields.prices);
  const costSource = fields.costSource ?? "ours";
  if (costSource !== "ours" && costSource !== "reported") {
    throw new TypeError(`costSource must be "ours" or "reported", got ${JSON.stringify(costSource)}.`);
  }
  const budget = CallBudget.for(fields, fields.budget);
  const downgrade = fields.budget ? Downgrade.for(fields.budget.downgrade, primaryApi, byName) : undefined;
  downgrade?.check(catalog); // a `to` without a price fails here, not mid-run
  const metering = new Metering({ catalog, budget, onCost: fields.onCost, costSource, downgrade, captureHeaders });
  return { catalog, budget, metering };
}
