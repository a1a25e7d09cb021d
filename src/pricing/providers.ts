/**
 * LangChain names providers in `ls_provider` (and we infer some from base URLs); genai-prices has its own
 * ids. This is the one map between them. Unlisted names pass through unchanged.
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

/** @internal The genai-prices provider id for a LangChain provider name. */
export function genaiProviderId(provider: string | undefined): string | undefined {
  if (!provider) return undefined;
  const key = provider.toLowerCase();
  return GENAI_PROVIDER_IDS[key] ?? key;
}
