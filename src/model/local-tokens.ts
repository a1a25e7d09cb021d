import type { BaseMessage } from "@langchain/core/messages";
import type { ChatOpenAI } from "@langchain/openai";
import { contentText, encoderFor } from "../usage/estimate.js";

/**
 * @internal LangChain's token counter downloads tiktoken ranks at first use (offline, a `streaming: true`
 * invoke stalls for minutes): count with js-tiktoken's bundled ranks instead, on the model and both delegates.
 */
export function useLocalTokenCounter(model: ChatOpenAI): void {
  const getNumTokens = async (content: BaseMessage["content"]) => (await encoderFor(model.model)).encode(contentText(content)).length;
  const { completions, responses } = model as unknown as Record<"completions" | "responses", ChatOpenAI>;
  for (const target of [model, completions, responses]) target.getNumTokens = getNumTokens;
}
