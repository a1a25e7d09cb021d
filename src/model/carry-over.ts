import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { CallOptions } from "./call-target.js";
import { unwrapChatModel } from "./unwrap.js";

/**
 * A call prepared for one provider, sent to another (a budget downgrade to another provider): the tools,
 * tool choice and structured-output settings are in the first provider's format. Rather than translate
 * them by hand, hand them to the target's own `bindTools` / `withStructuredOutput` in a form every
 * LangChain provider accepts, and take the call options those return.
 */

// Options every chat model understands the same way; everything else is provider-specific.
const PORTABLE_KEYS = ["stop", "signal", "timeout", "outputVersion", "promptIndex", "ls_structured_output_format"];

type Loose = Record<string, unknown>;
type Structured = { kwargs?: { method?: unknown }; schema?: unknown };

const toolCache = new WeakMap<BaseChatModel, WeakMap<object, Map<string, CallOptions>>>();
const schemaCache = new WeakMap<BaseChatModel, WeakMap<object, CallOptions>>();

/** @internal `options` (made for another model) as call options for `target`, with tools and structured output rebuilt. */
export function carryOver(options: CallOptions, target: BaseChatModel): CallOptions {
  const carried: Loose = {};
  for (const key of PORTABLE_KEYS) if (options[key] !== undefined) carried[key] = options[key];
  const tools = options.tools;
  if (Array.isArray(tools) && tools.length) Object.assign(carried, boundTools(target, tools, portableChoice(options.tool_choice)));
  const structured = options.ls_structured_output_format as Structured | undefined;
  const method = String(structured?.kwargs?.method ?? "");
  // Function-calling structured output is a bound tool plus a forced choice: carried above.
  if (/json/i.test(method) && structured?.schema && typeof structured.schema === "object") {
    Object.assign(carried, jsonOutput(target, structured.schema));
  }
  return carried as CallOptions;
}

function boundTools(target: BaseChatModel, tools: readonly unknown[], choice: string | undefined): CallOptions {
  let byTools = toolCache.get(target);
  if (!byTools) toolCache.set(target, (byTools = new WeakMap()));
  let byChoice = byTools.get(tools);
  if (!byChoice) byTools.set(tools, (byChoice = new Map()));
  let options = byChoice.get(choice ?? "");
  if (!options) {
    if (typeof target.bindTools !== "function") {
      throw new TypeError(`${target.getName()} can't bind tools, so a call with tools can't be downgraded to it.`);
    }
    const kwargs = choice ? ({ tool_choice: choice } as never) : undefined;
    const bound = unwrapChatModel(target.bindTools(tools.flatMap(portableTools) as never, kwargs));
    options = bound?.options ?? { tools };
    byChoice.set(choice ?? "", options);
  }
  return options;
}

function jsonOutput(target: BaseChatModel, schema: object): CallOptions {
  let bySchema = schemaCache.get(target);
  if (!bySchema) schemaCache.set(target, (bySchema = new WeakMap()));
  let options = bySchema.get(schema);
  if (!options) {
    const name = typeof (schema as Loose).title === "string" ? ((schema as Loose).title as string) : "extract";
    const pipeline = target.withStructuredOutput(schema as Loose, { method: "jsonSchema", name });
    const { ls_structured_output_format: _, ...rest } = unwrapChatModel(pipeline)?.options ?? {};
    options = rest as CallOptions;
    bySchema.set(schema, options);
  }
  return options;
}

/**
 * Tool definitions every provider's `bindTools` accepts: LangChain tools and OpenAI-format functions as
 * they are; Anthropic (`input_schema`) and Gemini (`functionDeclarations`) definitions as OpenAI functions.
 */
export function portableTools(tool: unknown): unknown[] {
  const t = tool as Loose;
  const fn = (name: unknown, description: unknown, parameters: unknown) => ({
    type: "function",
    function: { name, description: description ?? "", parameters: parameters ?? { type: "object", properties: {} } },
  });
  if (typeof t?.name === "string" && t.input_schema && typeof t.input_schema === "object") {
    return [fn(t.name, t.description, t.input_schema)];
  }
  if (Array.isArray(t?.functionDeclarations)) {
    return (t.functionDeclarations as Loose[]).map((d) => fn(d.name, d.description, d.parameters));
  }
  return [tool];
}

/**
 * A tool choice every provider reads the same: "auto", "none", "any" (OpenAI's "required"), or a tool
 * name (from OpenAI's `{ type: "function", function: { name } }` or Anthropic's `{ type: "tool", name }`).
 */
export function portableChoice(choice: unknown): string | undefined {
  if (typeof choice === "string") return choice === "required" ? "any" : choice;
  const c = choice as Loose | undefined;
  if (!c || typeof c !== "object") return undefined;
  const fn = c.function as Loose | undefined;
  if (typeof fn?.name === "string") return fn.name;
  if (typeof c.name === "string") return c.name;
  if (c.type === "any" || c.type === "auto" || c.type === "none") return c.type;
  return undefined;
}
