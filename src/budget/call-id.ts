/**
 * Call ids: unique across a fleet (a store settles each call once by its id), and cheap: a random prefix per
 * process, drawn on first use, and a counter. A UUID per call cost more than the rest of a call's metering.
 */
let prefix: string | undefined;
let counter = 0;

/** @internal A new call id. */
export function nextCallId(): string {
  prefix ??= randomPrefix();
  counter += 1;
  return `${prefix}-${counter.toString(36)}`;
}

function randomPrefix(): string {
  const bytes = new Uint8Array(8);
  const crypto = (globalThis as { crypto?: { getRandomValues?(array: Uint8Array): Uint8Array } }).crypto;
  if (crypto?.getRandomValues) crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
