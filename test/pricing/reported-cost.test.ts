/**
 * The cost an endpoint states itself: read from the raw usage (`usage.cost`) or a LiteLLM header, and
 * kept beside ours; `counted` says which one `totalUsd` is.
 */
import { describe, expect, it } from "vitest";
import { LITELLM_COST_HEADER, priceUsage } from "../../src/index.js";
import { withReportedCost } from "../../src/pricing/price-usage.js";
import { reportedCostOf } from "../../src/pricing/reported-cost.js";

describe("reportedCostOf", () => {
  it.each([
    [{ cost: 0.0012 }, undefined, 0.0012],
    [{ cost: 0 }, undefined, 0],
    [{ cost: "0.5" }, undefined, 0.5],
    [{ cost: -1 }, undefined, undefined],
    [{ cost: Number.NaN }, undefined, undefined],
    [{ cost: "free" }, undefined, undefined],
    [undefined, new Headers({ [LITELLM_COST_HEADER]: "0.00042" }), 0.00042],
    [undefined, new Headers({ [LITELLM_COST_HEADER]: "" }), undefined],
    [{ cost: 0.1 }, new Headers({ [LITELLM_COST_HEADER]: "0.2" }), 0.1],
    [undefined, undefined, undefined],
  ])("raw usage %o, headers %o → %s", (raw, headers, expected) => {
    expect(reportedCostOf(raw as Record<string, unknown> | undefined, headers)).toBe(expected);
  });
});

describe("withReportedCost", () => {
  // gpt-4o-mini 1000 in + 500 out: $0.00015 + $0.0003 = $0.00045
  const ours = priceUsage({ input_tokens: 1000, output_tokens: 500, total_tokens: 1500 }, "gpt-4o-mini");

  it("no reported cost: the cost as it was", () => {
    expect(withReportedCost(ours, undefined, "reported")).toBe(ours);
  });

  it('"ours": our total counts, the reported one sits beside it', () => {
    expect(withReportedCost(ours, 0.0004, "ours")).toMatchObject({ totalUsd: 0.00045, nanoUsd: 450_000, ourUsd: 0.00045, reportedUsd: 0.0004, counted: "ours" });
  });

  it('"reported": the reported total counts (rounded to the nano-dollar); our details stay', () => {
    const cost = withReportedCost(ours, 0.0004000004, "reported");
    expect(cost).toMatchObject({ totalUsd: 0.0004, nanoUsd: 400_000, ourUsd: 0.00045, reportedUsd: 0.0004000004, counted: "reported" });
    expect(cost.details).toEqual(ours.details);
  });
});
