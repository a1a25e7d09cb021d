/** @internal Whether an error is what an aborted request or stream throws (the shapes differ by path). */
export function isAbortError(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { name, message } = error as { name?: unknown; message?: unknown };
  return (
    name === "AbortError" ||
    name === "APIUserAbortError" ||
    name === "ModelAbortError" ||
    (typeof message === "string" && (message === "AbortError" || message.startsWith("Aborted") || message.includes("aborted")))
  );
}
