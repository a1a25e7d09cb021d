import { MeteredModel } from "./meter.js";
import { MeteredChatModel } from "./metered-chat-model.js";
import { METERED_NAMESPACE } from "./serialized-metering.js";

/**
 * What LangChain's `load()` needs to revive a serialized `MeteredChatModel` or `meter()` model (its budget,
 * prices, cost source and provider included): pass it as `optionalImportsMap`. A `meter()` model's inner
 * model loads from LangChain's own maps (e.g. `importMap: { chat_models__anthropic: { ChatAnthropic } }`).
 * A budget's `store` or `meter` isn't serialized (a live connection or file): `load()` of such a model fails
 * naming the field; nor is `onCost`, a function.
 *
 * @example
 * ```ts
 * import { load } from "@langchain/core/load";
 * const json = JSON.stringify(new MeteredChatModel({ model: "gpt-4o-mini", budget: { limitUsd: 0.5 } }));
 * const model = await load<MeteredChatModel>(json, {
 *   optionalImportsMap: meteredImportMap,
 *   secretsMap: { OPENAI_API_KEY: process.env.OPENAI_API_KEY },
 * });
 * ```
 */
export const meteredImportMap: Record<string, Record<string, unknown>> = {
  [METERED_NAMESPACE.join("/")]: { MeteredChatModel, MeteredModel },
};
