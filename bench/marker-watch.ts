/**
 * Watching a console stream for a marker line, cheaply. The emulated guests hand their console over a byte or a
 * few at a time (the SBI console, the UART), thousands of calls per boot: a watcher that kept a 4 KiB tail and
 * copied it at every call cost the emulated side ~60 ms of a 0.8 s boot (measured on the project kernel), where
 * QEMU's side, read from a pipe in large chunks, paid nearly nothing. Only the last `marker.length - 1`
 * characters are carried from one chunk to the next: enough for a marker split across chunks.
 */
export function markerWatch(marker: string): (bytes: Uint8Array) => boolean {
  const decoder = new TextDecoder();
  let carry = "";
  let seen = false;
  return (bytes) => {
    if (seen) return true;
    const text = carry + decoder.decode(bytes, { stream: true });
    seen = text.includes(marker);
    carry = text.length < marker.length ? text : text.slice(text.length - marker.length + 1);
    return seen;
  };
}
