import type { NanoUsd } from "../pricing/money.js";

/**
 * @internal A scope's spend against its limit, in integer nano-USD. A scope without a limit only counts.
 * Spend reaches the ledger two ways: after the call (`charge`), or, under a hard cap, as a reservation made
 * before the call (`reserve`) and settled with the actual cost after it. JavaScript runs one callback at a
 * time, so each method is atomic: concurrent calls can't all pass the same check.
 */
export class Ledger {
  private spent: NanoUsd = 0;
  private reserved: NanoUsd = 0;

  constructor(private limit: NanoUsd | undefined) {}

  get limitNano(): NanoUsd | undefined {
    return this.limit;
  }

  get spentNano(): NanoUsd {
    return this.spent;
  }

  get reservedNano(): NanoUsd {
    return this.reserved;
  }

  /** What a new call may still commit: the limit less spend and reservations (Infinity without a limit). */
  get availableNano(): NanoUsd {
    return this.limit === undefined ? Number.POSITIVE_INFINITY : Math.max(0, this.limit - this.spent - this.reserved);
  }

  /** Sets a limit on a ledger that had none; a tighter later limit wins, a looser one never does. */
  tighten(limit: NanoUsd): void {
    this.limit = this.limit === undefined ? limit : Math.min(this.limit, limit);
  }

  /** Whether a new call must be refused. */
  get exhausted(): boolean {
    return this.limit !== undefined && this.spent >= this.limit;
  }

  /** Whether `extra` more spend (beyond what is spent and reserved) would take the scope over its limit. */
  wouldCross(extra: NanoUsd): boolean {
    return this.limit !== undefined && this.spent + this.reserved + extra > this.limit;
  }

  /** Records a call's cost; true when it took the spend over the limit. */
  charge(cost: NanoUsd): boolean {
    this.spent += cost;
    return this.limit !== undefined && this.spent > this.limit;
  }

  /** Holds `amount` for a call about to be sent; false (and nothing held) when it doesn't fit. */
  reserve(amount: NanoUsd): boolean {
    if (this.wouldCross(amount)) return false;
    this.reserved += amount;
    return true;
  }

  /** Frees a reservation (the call failed and was not paid for). */
  release(amount: NanoUsd): void {
    this.reserved = Math.max(0, this.reserved - amount);
  }

  /** Replaces a reservation with the call's actual cost; true when that took the spend over the limit. */
  settle(reservedAmount: NanoUsd, cost: NanoUsd): boolean {
    this.release(reservedAmount);
    return this.charge(cost);
  }
}
