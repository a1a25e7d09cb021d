import type { Cost } from "../pricing/price-usage.js";
import type { Usage } from "../usage/usage.js";

/** One priced call, as reported to `onCost` and kept in a budget's `records`. */
export interface CostRecord {
  /** The LangChain run id of the chat-model call, when the call ran with callbacks. */
  runId: string | undefined;
  /** The run it was part of (the agent step, chain or tool that made it). */
  parentRunId: string | undefined;
  /** The model the response names, else the configured one. */
  model: string;
  provider: string | undefined;
  usage: Usage;
  cost: Cost;
  /** True when the usage was counted locally (no usage in the response, or a stream cut short). */
  estimated: boolean;
  /** When the call was priced. */
  at: Date;
}
