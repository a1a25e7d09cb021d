import { findProvider } from "@pydantic/genai-prices";

/**
 * LangChain names providers in `ls_provider`; genai-prices has its own ids. This is the one map between
 * them. Unlisted names pass through unchanged.
 */
const GENAI_PROVIDER_IDS: Readonly<Record<string, string>> = {
  openai: "openai",
  azure: "azure",
  azure_openai: "azure",
  anthropic: "anthropic",
  google_genai: "google",
  google_vertexai: "google",
  "google-genai": "google",
  google: "google",
  groq: "groq",
  deepseek: "deepseek",
  together: "together",
  togetherai: "together",
  openrouter: "openrouter",
  mistral: "mistral",
  mistralai: "mistral",
};

/**
 * Providers that route a request to a model of their choosing (`openrouter/auto`, a `:free` variant served
 * by its paid one) and name the served model in the response, which is what is priced.
 */
const ROUTERS = new Set(["openrouter"]);

/** @internal Whether the provider picks the served model per call: the requested name needs no price of its own. */
export function routesModels(provider: string | undefined): boolean {
  return ROUTERS.has(genaiProviderId(provider) ?? "");
}

/** @internal The genai-prices provider id for a LangChain provider name. */
export function genaiProviderId(provider: string | undefined): string | undefined {
  if (!provider) return undefined;
  const key = provider.toLowerCase();
  return GENAI_PROVIDER_IDS[key] ?? key;
}

const byUrl = new Map<string, string | undefined>();

/** @internal Forgets base-URL matches, after the price data has been replaced. */
export function clearProviderUrlCache(): void {
  byUrl.clear();
}

/**
 * The genai-prices provider an API base URL belongs to ("https://api.groq.com/openai/v1" → "groq"), by
 * genai-prices' own `api_pattern`s; `undefined` for a URL it doesn't know (a local proxy, a gateway).
 */
export function providerFromBaseUrl(baseUrl: string | undefined): string | undefined {
  if (!baseUrl) return undefined;
  if (!byUrl.has(baseUrl)) byUrl.set(baseUrl, findProvider({ providerApiUrl: baseUrl })?.id);
  return byUrl.get(baseUrl);
}

/**
 * @internal Which provider's prices apply to a call: one named explicitly; else LangChain's `ls_provider`,
 * unless it is ChatOpenAI's "openai", which it says whatever its base URL: then the provider that URL
 * points at (Groq, DeepSeek, OpenRouter, …), else "openai".
 */
export function resolveProvider(from: {
  explicit?: string | undefined;
  baseUrl?: string | undefined;
  lsProvider?: string | undefined;
}): string | undefined {
  const named = genaiProviderId(from.explicit);
  if (named) return named;
  const ls = genaiProviderId(from.lsProvider);
  if (ls && ls !== "openai") return ls;
  return providerFromBaseUrl(from.baseUrl) ?? ls;
}

/**
 * @internal The base URL in a model's serialized form (`handleChatModelStart`'s first argument):
 * ChatOpenAI's `configuration.baseURL`, ChatAnthropic's `anthropic_api_url`, Google's `base_url`.
 */
export function baseUrlOfSerialized(serialized: unknown): string | undefined {
  const kwargs = (serialized as { kwargs?: Record<string, unknown> } | undefined)?.kwargs;
  if (!kwargs) return undefined;
  const configuration = kwargs.configuration as { baseURL?: unknown } | undefined;
  const candidates = [configuration?.baseURL, kwargs.anthropic_api_url, kwargs.base_url, kwargs.baseUrl];
  return candidates.find((value): value is string => typeof value === "string" && value.length > 0);
}
