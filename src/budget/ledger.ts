import type { NanoUsd } from "../pricing/money.js";

/**
 * @internal A scope's spend against its limit, in integer nano-USD; a scope without a limit only counts.
 * Spend reaches the ledger two ways: after the call (`charge`), or, under a hard cap, as a hold made before
 * the call and replaced by its actual cost after it. JavaScript runs one callback at a time, so each method
 * is atomic: concurrent calls can't all pass the same check.
 */
export class Ledger {
  private spent: NanoUsd = 0;
  private held: NanoUsd = 0;

  constructor(private limit: NanoUsd | undefined) {}

  get limitNano(): NanoUsd | undefined {
    return this.limit;
  }

  get spentNano(): NanoUsd {
    return this.spent;
  }

  get heldNano(): NanoUsd {
    return this.held;
  }

  /** What a new call may still commit: the limit less spend and holds (Infinity without a limit). */
  get availableNano(): NanoUsd {
    return this.limit === undefined ? Number.POSITIVE_INFINITY : Math.max(0, this.limit - this.spent - this.held);
  }

  /** What a new call could commit once every hold has ended. */
  get unspentNano(): NanoUsd {
    return this.limit === undefined ? Number.POSITIVE_INFINITY : Math.max(0, this.limit - this.spent);
  }

  /** Sets a limit on a ledger that had none; a tighter later limit wins, a looser one never does. */
  tighten(limit: NanoUsd): void {
    this.limit = this.limit === undefined ? limit : Math.min(this.limit, limit);
  }

  /** Whether a new call must be refused: the limit is spent. */
  get exhausted(): boolean {
    return this.limit !== undefined && this.spent >= this.limit;
  }

  /** Whether `extra` more spend (beyond what is spent and held) would take the scope over its limit. */
  wouldCross(extra: NanoUsd): boolean {
    return this.limit !== undefined && this.spent + this.held + extra > this.limit;
  }

  /** Holds `amount` for a call about to be sent; false (and nothing held) when it doesn't fit. */
  hold(amount: NanoUsd): boolean {
    if (this.wouldCross(amount)) return false;
    this.held += amount;
    return true;
  }

  /**
   * Ends a call: drops its hold (0 when it had none) and adds its cost (0 when it was not billed). True
   * when the spend is now over the limit. A hold is dropped once: dropping more than is held is a bug.
   */
  end(heldAmount: NanoUsd, cost: NanoUsd): boolean {
    if (heldAmount > this.held) throw new Error(`Ledger: dropping a hold of ${heldAmount} with only ${this.held} held (a call ended twice).`);
    this.held -= heldAmount;
    this.spent += cost;
    return this.limit !== undefined && this.spent > this.limit;
  }
}
