import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { resolveProvider } from "../pricing/providers.js";

/** @internal A chat model's name and the genai-prices provider whose prices apply to it. */
export interface ModelIdentity {
  modelName: string;
  provider: string | undefined;
}

type Loose = Record<string, unknown>;
const text = (value: unknown) => (typeof value === "string" && value ? value : undefined);

/** @internal The base URL a LangChain chat model sends to: ChatOpenAI's client config, ChatAnthropic's `apiUrl`, Google's `baseUrl`. */
export function baseUrlOf(model: BaseChatModel): string | undefined {
  const fields = model as unknown as Loose;
  return text((fields.clientConfig as Loose | undefined)?.baseURL) ?? text(fields.apiUrl) ?? text(fields.baseUrl);
}

/**
 * @internal Names a chat model for pricing: `ls_model_name` and `ls_provider` as LangChain reports them
 * (`getLsParams`), with ChatOpenAI's base URL deciding which OpenAI-compatible provider it really is.
 */
export function identify(model: BaseChatModel, options: Loose = {}, explicitProvider?: string): ModelIdentity {
  let params: Loose = {};
  try {
    params = model.getLsParams(options as never) as Loose;
  } catch {
    // Some models validate call options in getLsParams; the fields below are enough.
  }
  const fields = model as unknown as Loose;
  const modelName = text(params.ls_model_name) ?? text(fields.model) ?? text(fields.modelName);
  if (!modelName) throw new TypeError(`Can't tell which model ${model.getName()} calls: it names none (ls_model_name, model).`);
  const provider = resolveProvider({ explicit: explicitProvider, baseUrl: baseUrlOf(model), lsProvider: text(params.ls_provider) });
  return { modelName, provider };
}
