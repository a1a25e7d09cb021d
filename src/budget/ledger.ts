import type { NanoUsd } from "../pricing/money.js";

/**
 * @internal A scope's spend against its limit, in integer nano-USD. A scope without a limit only counts;
 * once spend reaches the limit, every later call is refused.
 */
export class Ledger {
  private spent: NanoUsd = 0;

  constructor(private limit: NanoUsd | undefined) {}

  get limitNano(): NanoUsd | undefined {
    return this.limit;
  }

  get spentNano(): NanoUsd {
    return this.spent;
  }

  /** Sets a limit on a ledger that had none; a tighter later limit wins, a looser one never does. */
  tighten(limit: NanoUsd): void {
    this.limit = this.limit === undefined ? limit : Math.min(this.limit, limit);
  }

  /** Whether a new call must be refused. */
  get exhausted(): boolean {
    return this.limit !== undefined && this.spent >= this.limit;
  }

  /** Whether `extra` more spend would take the scope over its limit. */
  wouldCross(extra: NanoUsd): boolean {
    return this.limit !== undefined && this.spent + extra > this.limit;
  }

  /** Records a call's cost; true when it took the spend over the limit. */
  charge(cost: NanoUsd): boolean {
    this.spent += cost;
    return this.limit !== undefined && this.spent > this.limit;
  }
}
