import type { PriceSource } from "../pricing/catalog.js";
import { nanoToUsd, type NanoUsd } from "../pricing/money.js";
import type { Cost } from "../pricing/price-usage.js";
import { type Usage, ZERO_USAGE } from "../usage/usage.js";
import type { MeterEntry } from "./meter-sink.js";
import type { SafeMeter } from "./meter-sink.js";
import type { ResolvedQuota } from "./quotas.js";

/** @internal What the log needs to know of a call to write its lines. */
export interface LoggedCall {
  id: string;
  info: { model: string; provider: string | undefined; runId?: string | undefined; parentRunId?: string | undefined };
  limits: readonly ResolvedQuota[];
}

/** @internal The prompt and answer as text, for a metering sink that asks for content (read only then). */
export type ContentOf = () => { input: string; output: string };

/**
 * @internal One call's lines in the metering log. A call that holds money in a shared quota store writes a
 * "held" line first (before the store could ever charge the hold, should this process die), then its
 * outcome: per call id, the last line counts. A call that never held writes its outcome only.
 */
export class CallLog {
  /** The amount of the last "held" line, if one was written. */
  private held: NanoUsd | undefined;

  constructor(
    private readonly meter: SafeMeter | undefined,
    private readonly call: LoggedCall,
  ) {}

  /** Writes the call's worst case before it is held in the store; once per amount (a waiting call retries). */
  async hold(amount: NanoUsd): Promise<void> {
    if (!this.meter || this.held === amount) return;
    this.held = amount;
    await this.write("held", { ...ZERO_USAGE }, { ...zeroCost(this.call.info, "override"), nanoUsd: amount, totalUsd: nanoToUsd(amount) });
  }

  /** Writes the call's outcome: its cost, or a refusal. */
  ended(decision: MeterEntry["decision"], usage: Usage, cost: Cost, content?: ContentOf): Promise<void> {
    return this.write(decision, usage, cost, content);
  }

  /** The $0 last line of a call that wrote "held" and was not billed after all (nothing without one). */
  async released(): Promise<void> {
    if (this.held !== undefined) await this.write("released", { ...ZERO_USAGE }, zeroCost(this.call.info, "override"));
  }

  /** Whether the call has a metering sink to write to (without one, every write is a no-op). */
  get writes(): boolean {
    return this.meter !== undefined;
  }

  /** Whether a "held" line stands for the call. */
  get wroteHold(): boolean {
    return this.held !== undefined;
  }

  private async write(decision: MeterEntry["decision"], usage: Usage, cost: Cost, content?: ContentOf): Promise<void> {
    const meter = this.meter;
    if (!meter) return;
    const { id, info, limits } = this.call;
    await meter.write({
      callId: id,
      time: new Date().toISOString(),
      runId: info.runId,
      parentRunId: info.parentRunId,
      quotaKeys: limits.map((limit) => limit.key),
      provider: cost.provider,
      model: cost.model,
      usage,
      costUsd: cost.totalUsd,
      costNanoUsd: cost.nanoUsd,
      priceSource: cost.priceSource,
      estimated: cost.estimated,
      decision,
      ...(meter.sink.includeContent && content ? { content: content() } : {}),
    });
  }
}

/** @internal A cost of $0 for a call: what a refused or released call is recorded at. */
export function zeroCost(info: { model: string; provider: string | undefined }, priceSource: PriceSource): Cost {
  return { totalUsd: 0, nanoUsd: 0, details: {}, model: info.model, provider: info.provider, priceSource, estimated: false };
}
