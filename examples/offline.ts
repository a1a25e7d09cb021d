/**
 * The repository's loopback stand-ins, so the examples run offline: an OpenAI-compatible server (scripted
 * replies, usage as OpenAI reports it), its OpenAI-style billing, and a Langfuse receiver. Copying an example
 * into your project? Drop this import and the `offline` branch: with OPENAI_API_KEY set, every example talks
 * to the real API.
 */
export { billing } from "../test/budget/hard-cap-billing.js";
export { type LangfuseReceiver, startLangfuseReceiver } from "../test/support/langfuse-receiver.js";
export { startFakeOpenAI } from "../test/support/openai-server.js";
