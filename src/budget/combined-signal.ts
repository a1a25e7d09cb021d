/**
 * @internal One signal that aborts when either of two does, with a `dispose` that removes its listeners.
 * `AbortSignal.any` does the same, but on Node 20 its composites stay reachable from a long-lived source
 * signal (nodejs/node#55351): 200k calls under one server-wide signal kept 200k of them alive.
 */
export function combineSignals(a: AbortSignal, b: AbortSignal): { signal: AbortSignal; dispose: () => void } {
  if (a.aborted || b.aborted) return { signal: a.aborted ? a : b, dispose: () => {} };
  const controller = new AbortController();
  const onA = () => controller.abort(a.reason);
  const onB = () => controller.abort(b.reason);
  a.addEventListener("abort", onA, { once: true });
  b.addEventListener("abort", onB, { once: true });
  return {
    signal: controller.signal,
    dispose: () => {
      a.removeEventListener("abort", onA);
      b.removeEventListener("abort", onB);
    },
  };
}
