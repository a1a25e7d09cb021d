import { z } from "zod";
import type { CostRecord } from "../budget/cost-record.js";
import { type QuotaStatus, readQuotaStatus } from "../budget/quota-status.js";
import { budgetOptionsShape, type BudgetOptions, budgetSettings } from "../budget/settings.js";
import { InvalidOptionsError } from "../errors.js";
import { catalogFor, type PriceCatalog } from "../pricing/catalog.js";
import { UnknownModelPriceError } from "../pricing/errors.js";
import { routesModels } from "../pricing/providers.js";
import type { PriceOverrides } from "../pricing/overrides.js";
import type { CostSource } from "../pricing/price-usage.js";
import { closest, describeValue, parseOptions } from "../validation.js";
import { type BoundTarget, Downgrade, type DowngradeOption } from "./downgrade.js";
import { Metering, type MeteringSettings } from "./metering.js";
import type { HeaderCapture } from "./response-headers.js";

/**
 * A model's `budget` option: the budget of each run the model takes part in (see `BudgetOptions`: a limit
 * in USD, default 2, a hard cap, quotas with their store and failure policy, a metering log), plus a
 * downgrade once the run has spent a share of its limit; or `false` to meter without a limit.
 */
export type BudgetOption = (BudgetOptions & { downgrade?: DowngradeOption }) | false;

/** Metering options, the same for `MeteredChatModel` and `meter()`. */
export interface MeteringFields {
  /** Prices that add to or replace genai-prices' data, keyed by model name, in USD per 1M tokens. */
  prices?: PriceOverrides;
  /** Called with every priced call, after its cost is known (for a metering log or a dashboard). */
  onCost?: (record: CostRecord) => void;
  /**
   * The budget of each run this model takes part in: `{ limitUsd }` (default `{ limitUsd: 2 }`), with an
   * optional `hardCap`, `quotas` and `downgrade`, or `false` to meter without a limit. A budget set over the
   * run (`budgetMiddleware`, `withBudget`, a `BudgetCallbackHandler` in its callbacks) is used instead.
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
  /**
   * What happens to usage the price has no rate of its own for (audio tokens of a model whose price data has
   * text rates only): `"estimate"` (default) charges them at the text rate, marks the cost estimated
   * (`estimate: "missing-rate"`) and warns once per model; `"error"` charges the call the same way, then throws
   * `UnknownModelPriceError`, which says which rate to add with `prices`.
   */
  missingRates?: "estimate" | "error";
}

const budgetOption = z.strictObject({
  ...budgetOptionsShape,
  downgrade: z.custom<DowngradeOption>((value) => typeof value === "object" && value !== null, {
    error: (issue) => `Expected { atFraction, to }, got ${describeValue(issue.input)}`,
  }).optional(),
});

/** Budget options a user may have put at the model's top level instead of inside `budget`. */
const MISPLACED = ["limitUsd", "hardCap", "quotas", "store", "onStoreError", "meter", "reservationTtlMs", "holdWaitMs", "downgrade"];
/** The model's own metering fields: a key one or two edits from one of them is a typo (`budjet`), not a ChatOpenAI field. */
const METERING_KEYS = ["prices", "onCost", "budget", "costSource", "provider", "missingRates"];

/** @internal What a metered model builds from its metering fields. */
export interface MeteringParts {
  catalog: PriceCatalog;
  /**
   * Throws `UnknownModelPriceError` for a model nothing prices, at construction rather than after the first
   * paid call. Without a hard cap, a model may do without: under `costSource: "reported"` the endpoint's
   * report prices it, and a router (OpenRouter) prices the model it served, named in the response.
   */
  requirePrice: (model: string, provider: string | undefined) => void;
  metering: Metering;
  /** Each of the budget's quotas as it stands for a run's metadata (none without a budget). */
  quotaStatus: (metadata: Record<string, unknown>) => Promise<QuotaStatus[]>;
}

/**
 * @internal Validates metering fields (once per fields object: `bindTools` re-creates the model with the
 * same one) and builds the metering core. `where` names the model in errors; `primaryApi` is its
 * `_llmType()`; `byName` builds a same-API model for a downgrade given by name; `timeoutMs` is its request
 * timeout, which a hold in a shared store must outlive.
 */
export function buildMetering(
  fields: MeteringFields & Record<string, unknown>,
  where: string,
  model: { primaryApi: string; byName: (model: string) => BoundTarget; timeoutMs?: number | undefined },
  captureHeaders?: () => HeaderCapture,
): MeteringParts {
  let parts = built.get(fields);
  if (!parts) built.set(fields, (parts = build(fields, where, model, captureHeaders)));
  return parts;
}

const built = new WeakMap<object, MeteringParts>();

function build(
  fields: MeteringFields & Record<string, unknown>,
  where: string,
  model: { primaryApi: string; byName: (model: string) => BoundTarget; timeoutMs?: number | undefined },
  captureHeaders?: () => HeaderCapture,
): MeteringParts {
  const catalog = catalogFor(fields.prices);
  const costSource = fields.costSource ?? "ours";
  const problems: string[] = [];
  if (costSource !== "ours" && costSource !== "reported") problems.push(`costSource: Expected "ours" or "reported", got ${describeValue(costSource)}`);
  const missingRates = fields.missingRates ?? "estimate";
  if (missingRates !== "estimate" && missingRates !== "error") problems.push(`missingRates: Expected "estimate" or "error", got ${describeValue(missingRates)}`);
  for (const key of MISPLACED) if (key in fields) problems.push(`${key}: a budget option at the model's top level: move it into \`budget: { ${key} }\``);
  for (const key of Object.keys(fields)) {
    const meant = METERING_KEYS.includes(key) ? undefined : closest(key, METERING_KEYS);
    if (meant) problems.push(`${key}: not an option of ours or ChatOpenAI's; did you mean \`${meant}\`?`);
  }
  const option = fields.budget;
  if (option !== undefined && option !== false && (typeof option !== "object" || option === null)) {
    problems.push(`budget: Expected an object of budget options (e.g. { limitUsd: 2 }) or false, got ${describeValue(option)}`);
  }
  if (problems.length) throw new InvalidOptionsError(where, problems);

  const parsed = option ? parseOptions(budgetOption, option, where, "budget") : undefined;
  const settings = option === false ? undefined : budgetSettings(parsed ?? {}, "run");
  if (settings?.hardCap && settings.quotas.length && model.timeoutMs !== undefined && settings.reservationTtlMs <= model.timeoutMs) {
    throw new InvalidOptionsError(where, [
      `budget.reservationTtlMs: ${settings.reservationTtlMs} ms is not longer than the model's timeout (${model.timeoutMs} ms): ` +
        "a hold that expires while its call is still running is charged as if its worker had died. Raise it above the timeout.",
    ]);
  }
  const downgrade = parsed?.downgrade ? Downgrade.for(parsed.downgrade, model.primaryApi, model.byName) : undefined;
  downgrade?.check(catalog, where); // a `to` without a price fails here, not mid-run
  const metering = new Metering({ catalog, budget: settings, onCost: fields.onCost, costSource, downgrade, captureHeaders, entry: where, missingRates } satisfies MeteringSettings);
  const hardCap = settings?.hardCap ?? false;
  const requirePrice = (name: string, provider: string | undefined) => {
    if (catalog.find(name, provider) || ((costSource === "reported" || routesModels(provider)) && !hardCap)) return;
    throw new UnknownModelPriceError(name, provider, { entry: where, hardCap: hardCap && costSource === "reported" });
  };
  const quotaStatus = (metadata: Record<string, unknown>) => (settings ? readQuotaStatus(settings.quotas, settings.store, metadata) : Promise.resolve([]));
  return { catalog, metering, requirePrice, quotaStatus };
}
