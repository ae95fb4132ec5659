/**
 * A WebSocket echo server written with `./websocket` on `./http1` and the runtime's TCP
 * adapter: each message comes back with its type (text or binary), pings are answered, and a
 * close is answered with the same code. Frames are parsed where they arrive in pool memory,
 * unmasked there by the WebAssembly mask kernel, and each echo is written straight into the
 * output's pool memory. permessage-deflate is accepted when the client offers it.
 *
 * Run:   `deno run -A examples/websocket_echo.ts --port 8080` (or `bun examples/websocket_echo.ts --port 8080`;
 *        Node: bundle first, `npx esbuild examples/websocket_echo.ts --bundle --platform=node --format=esm --target=node20 --outfile=websocket_echo.mjs`).
 * Try:   `python3 -m websockets ws://127.0.0.1:8080/`, or `new WebSocket("ws://127.0.0.1:8080/")` in a browser.
 * Check: `deno run -A examples/websocket_echo.ts --self-test` (prints "ok").
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Connection } from "../mod.ts";
import { type HttpRequest, type HttpResponse, serveHttp } from "../src/http1/mod.ts";
import { acceptWebSocket, connectWebSocket, isWebSocketRequest } from "../src/websocket/mod.ts";
import { adapter, parseArgs, runSelfTest } from "./_runtime.ts";

/**
 * Serves one request: a WebSocket handshake gets an echo socket, anything else a short text.
 * @param request The request.
 * @param response Its response.
 */
async function handle(request: HttpRequest, response: HttpResponse): Promise<void> {
  if (!isWebSocketRequest(request)) {
    response.setHeader("Content-Type", "text/plain");
    return response.end("This is a WebSocket echo server: connect with a WebSocket client.\n");
  }
  const socket = await acceptWebSocket(request, response, { perMessageDeflate: true });
  // Each message (a zero-copy view of the input, valid until the next step) is copied into the
  // output as it is, with its type; the loop ends once the connection is closed.
  for await (const message of socket) {
    await socket.send(message.data, { binary: message.type === "binary" });
  }
}

/**
 * Serves a connection until it ends.
 * @param connection The connection.
 * @returns When the connection is done.
 */
function serve(connection: Connection): Promise<void> {
  return serveHttp(connection, handle, { onError: (error) => console.error(error) });
}

const args = parseArgs(8080);

if (args.selfTest) {
  await runSelfTest(async () => {
    await using listener = await adapter.listen({ hostname: "127.0.0.1", port: 0 }, serve);
    const port = listener.addr.port;
    for (const perMessageDeflate of [false, true]) {
      const connection = await adapter.connect({ hostname: "127.0.0.1", port });
      const socket = await connectWebSocket(connection, `ws://127.0.0.1:${port}/`, { perMessageDeflate });
      await socket.send("hello");
      const text = await socket.receive();
      assert.equal(text?.type, "text");
      assert.equal(text?.text(), "hello");
      const bytes = new Uint8Array(100_000).map((_, i) => i * 31);
      await socket.send(bytes, { fragmentBytes: 1000 });
      const binary = await socket.receive();
      assert.equal(binary?.type, "binary");
      assert.deepEqual(binary?.bytes(), bytes);
      const pong = socket.ping();
      const reading = socket.receive();
      await pong;
      const info = await socket.close(4000, "bye");
      assert.deepEqual(info, { code: 4000, reason: "bye", wasClean: true });
      assert.equal(await reading, null);
    }
  });
} else {
  const listener = await adapter.listen({ hostname: "127.0.0.1", port: args.port }, serve);
  console.log(`listening on ${listener.addr.hostname}:${listener.addr.port}`);
}
