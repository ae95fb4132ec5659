// Reading an accepted node:net socket into caller memory, as a client socket made with
// `onread` does. Node's net.Server gives the sockets it accepts no `onread` option (Node 20-24),
// so each of their reads allocates a buffer that the `data` path then copies: a malloc, a
// Buffer and the stream machinery per request (bench/http.ts, Node: ~1 µs of CPU a request).
//
// What `new net.Socket({ onread })` does, done here to a socket the server made: its constructor
// sets three slots of the socket (symbols `kBuffer`, `kBufferCb` and `kBufferGen`, private to
// node:net, found here by their descriptions), and initSocketHandle hands the handle the first
// buffer (`_handle.useUserBuffer`). From then on Node's onStreamRead calls the callback for each
// read (false stops reading, `resume()` starts it again: net.Socket's own resume does for such a
// socket) and asks the generator for the next buffer; the end of stream and errors go through
// the stream as before. This is Node's internals, so it is checked first and tested loudly
// (tests/node_adapter_test.ts fails when a Node release changes them); where anything is
// missing (Bun's node:net, a Node that changed) nothing is changed and the caller reads with
// `data` events.
//
// Internal (underscore file): not exported from any entry point.

import type { Socket } from "node:net";

/** The three onread slots of a net.Socket, as node:net names their symbols. */
interface OnreadSlots {
  buffer: symbol;
  callback: symbol;
  generator: symbol;
}

// Found on the first socket that has them; undefined: not looked for yet; null: not there.
let slots: OnreadSlots | null | undefined;

function findSlots(socket: Socket): OnreadSlots | null {
  let buffer: symbol | undefined;
  let callback: symbol | undefined;
  let generator: symbol | undefined;
  for (const symbol of Object.getOwnPropertySymbols(socket)) {
    if (symbol.description === "kBuffer") buffer = symbol;
    else if (symbol.description === "kBufferCb") callback = symbol;
    else if (symbol.description === "kBufferGen") generator = symbol;
  }
  return buffer !== undefined && callback !== undefined && generator !== undefined
    ? { buffer, callback, generator }
    : null;
}

/** The handle method that swaps Node's own read buffers for ours. */
interface UserBufferHandle {
  useUserBuffer(buffer: Uint8Array): void;
}

/**
 * Makes `socket`, just accepted (before its first read: in the server's connection listener),
 * read into the views `buffer()` returns and report each read to `callback(byteCount)`, as a
 * client socket made with `onread: { buffer, callback }` does. `buffer` is called now for the
 * first view and after each read for the next.
 *
 * @returns `true` when the socket now reads so; `false` when this runtime's sockets cannot
 *   (nothing changed: read with `data` events).
 */
export function readIntoCallerMemory(
  socket: Socket,
  buffer: () => Uint8Array,
  callback: (byteCount: number) => boolean,
): boolean {
  if (slots === undefined) slots = findSlots(socket);
  if (slots === null) return false;
  const target = socket as unknown as Record<symbol, unknown>;
  const handle = (socket as unknown as { _handle?: Partial<UserBufferHandle> | null })._handle;
  // A socket made without onread has the three slots at null; anything else is not what we know.
  if (
    typeof handle?.useUserBuffer !== "function" || target[slots.buffer] !== null ||
    target[slots.callback] !== null || target[slots.generator] !== null
  ) {
    return false;
  }
  const first = buffer();
  target[slots.buffer] = first;
  target[slots.generator] = buffer;
  target[slots.callback] = callback;
  handle.useUserBuffer(first);
  return true;
}
