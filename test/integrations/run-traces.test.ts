/** One trace per root run for the v3 handler, whatever order runs of different roots interleave in. */
import { describe, expect, it } from "vitest";
import { RunTraces } from "../../src/integrations/langfuse/run-traces.js";

describe("RunTraces", () => {
  it("a root opens its own trace; children join their parent's, even interleaved with another root's", () => {
    const traces = new RunTraces();
    expect(traces.start("a", undefined, true)).toEqual({ traceId: "a", opened: true });
    expect(traces.start("b", undefined, true)).toEqual({ traceId: "b", opened: true });
    expect(traces.start("a1", "a", true)).toEqual({ traceId: "a", opened: false });
    expect(traces.start("b1", "b", false)).toEqual({ traceId: "b", opened: false });
    expect(traces.start("a2", "a1", true)).toEqual({ traceId: "a", opened: false });
    expect([traces.of("a2"), traces.of("b1")]).toEqual(["a", "b"]);
  });

  it("a run whose parent it never saw opens a trace only if it would open one anyway", () => {
    const traces = new RunTraces();
    expect(traces.start("x", "unseen", true)).toEqual({ traceId: "x", opened: true });
    expect(traces.start("tool", "unseen", false)).toBeUndefined();
  });

  it("forgets a run once it ended", () => {
    const traces = new RunTraces();
    traces.start("a", undefined, true);
    traces.end("a");
    expect(traces.of("a")).toBeUndefined();
  });
});
