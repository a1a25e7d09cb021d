import type { BaseMessage } from "@langchain/core/messages";
import { LangChainTracer } from "@langchain/core/tracers/tracer_langchain";
import { type CostRecord, recordOfError } from "../budget/cost-record.js";
import { recordOfRun } from "../budget/run-records.js";
import type { Cost } from "../pricing/price-usage.js";
import { UnsupportedVersionError } from "./internals.js";
import { endedRunCost } from "./price-call.js";

/**
 * LangSmith reads a chat-model run's costs from `usage_metadata` in the run's metadata, which LangChain's own
 * tracer fills from the message at the run's end (`LangChainTracer.onLLMEnd`): with the cost fields of
 * LangSmith's `UsageMetadata` (`input_cost`, `output_cost`, `total_cost`, `input_cost_details`,
 * `output_cost_details`) there, LangSmith shows that figure instead of pricing the tokens itself. So the
 * tracer's hook is wrapped, once, when the first metered model is made: after it ran, a run whose message
 * carries our cost gets the cost fields beside the token counts, and the budget's view under `metered`; a plain
 * model's run under a `BudgetCallbackHandler` gets that handler's record of the call (waiting for it to end).
 * The message itself, and its `usage_metadata`, stay exactly as the provider package made them.
 */
let installed = false;

type TracedRun = {
  id?: string;
  outputs?: { generations?: Array<Array<{ message?: BaseMessage }>> };
  extra?: { metadata?: Record<string, unknown> };
};

/** @internal Makes LangSmith runs of metered calls carry their cost (see above). Idempotent. */
export function installLangSmithCosts(): void {
  if (installed) return;
  installed = true;
  const proto = LangChainTracer.prototype as unknown as {
    onLLMEnd?: (run: TracedRun) => unknown;
    handleLLMError?: (error: unknown, runId: string, ...rest: unknown[]) => unknown;
    getRunById?: (runId: string) => TracedRun | undefined;
  };
  const onEnd = proto.onLLMEnd;
  const onError = proto.handleLLMError;
  if (typeof onEnd !== "function") throw new UnsupportedVersionError("LangChainTracer.onLLMEnd", "@langchain/core");
  if (typeof onError !== "function" || typeof proto.getRunById !== "function") {
    throw new UnsupportedVersionError("LangChainTracer.handleLLMError", "@langchain/core");
  }
  // LangChain's BaseTracer awaits onLLMEnd before it sends the run's end.
  proto.onLLMEnd = async function onLLMEnd(this: unknown, run: TracedRun) {
    await onEnd.call(this, run);
    const { cost, record } = await endedRunCost(run.outputs?.generations?.at(-1)?.at(-1)?.message, run.id);
    annotate(run, cost, record);
  };
  // A paid call can end in an error: the one that took its budget over the limit, a corrupt usage. Its
  // record is on the error (or, for a plain model, with its budget handler): the run shows what it cost.
  proto.handleLLMError = async function handleLLMError(this: typeof proto, error: unknown, runId: string, ...rest: unknown[]) {
    const record = recordOfError(error) ?? (await recordOfRun(runId));
    const run = this.getRunById?.(runId);
    if (run && record) annotate(run, record.cost, record);
    return onError.call(this, error, runId, ...rest);
  };
}

function annotate(run: TracedRun, cost: Cost | undefined, record: CostRecord | undefined): void {
  if (!cost) return;
  run.extra ??= {};
  const metadata = (run.extra.metadata ??= {});
  const usage = metadata.usage_metadata as { total_tokens?: unknown } | undefined;
  // No usage from the provider: the run shows the tokens the estimate priced, not 0 beside a cost.
  const estimated = cost.estimatedUsage && !(typeof usage?.total_tokens === "number" && usage.total_tokens > 0) ? cost.estimatedUsage : undefined;
  // A copy: the tracer's usage_metadata is the message's own, which stays as the provider package made it.
  metadata.usage_metadata = Object.assign({}, usage, estimated, langSmithCost(cost));
  const metered: Record<string, unknown> = { price_source: cost.priceSource, estimated: cost.estimated };
  if (cost.estimate) metered.estimate = cost.estimate;
  const budget = record?.budget;
  if (budget) metered.budget = Object.assign({}, budget, { limitUsd: finiteOrNull(budget.limitUsd), remainingUsd: finiteOrNull(budget.remainingUsd) });
  metadata.metered = metered;
}

/** JSON has no Infinity: a budget without a limit says `null`. */
const finiteOrNull = (usd: number): number | null => (Number.isFinite(usd) ? usd : null);

/** Our keys, as LangSmith's token-detail keys (those of LangChain's `input_token_details` / `output_token_details`). */
const INPUT_KEYS: Readonly<Record<string, string>> = { input_cache_read: "cache_read", input_cache_write: "cache_creation", input_audio: "audio", web_search: "web_search" };
const OUTPUT_KEYS: Readonly<Record<string, string>> = { output_reasoning: "reasoning", output_audio: "audio" };

/** LangSmith's `UsageMetadata` cost fields, in USD. */
export interface LangSmithCostFields {
  input_cost?: number;
  output_cost?: number;
  total_cost: number;
  input_cost_details?: Record<string, number>;
  output_cost_details?: Record<string, number>;
}

/**
 * @internal A cost as LangSmith's `UsageMetadata` cost fields, in USD, to the nano-dollar: input and output
 * each with their details (web searches count on the input side: their results are the model's input), so
 * `input_cost + output_cost === total_cost`. A cost that counts the endpoint's reported figure has no split
 * of it: only `total_cost` is sent. Sums are taken in integer nano-USD, so they don't drift.
 */
export function langSmithCost(cost: Cost): LangSmithCostFields {
  if (cost.counted === "reported") return { total_cost: cost.totalUsd };
  const { details } = cost;
  let inputNano = nano(details.input);
  let outputNano = nano(details.output);
  let inputDetails: Record<string, number> | undefined;
  let outputDetails: Record<string, number> | undefined;
  for (const key in details) {
    const part = nano(details[key as keyof Cost["details"]]);
    if (part <= 0) continue;
    const asInput = INPUT_KEYS[key];
    const asOutput = OUTPUT_KEYS[key];
    if (asInput) {
      inputNano += part;
      (inputDetails ??= {})[asInput] = part / 1e9;
    } else if (asOutput) {
      outputNano += part;
      (outputDetails ??= {})[asOutput] = part / 1e9;
    }
  }
  const fields: LangSmithCostFields = { input_cost: inputNano / 1e9, output_cost: outputNano / 1e9, total_cost: cost.totalUsd };
  if (inputDetails) fields.input_cost_details = inputDetails;
  if (outputDetails) fields.output_cost_details = outputDetails;
  return fields;
}

const nano = (usd: number | undefined): number => Math.round((usd ?? 0) * 1e9);
