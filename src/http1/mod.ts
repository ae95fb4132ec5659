/**
 * HTTP/1.1, server side, on any connection of channels (`./deno`, `./bun` or `./node`'s
 * `Connection`, or any `DuplexChannel`): {@linkcode serveHttp} parses each request head in
 * place in the input's pool memory, calls your handler with an {@linkcode HttpRequest} and an
 * {@linkcode HttpResponse}, and formats the response straight into the output's pool memory.
 *
 * | what | copies? | lives until |
 * | --- | --- | --- |
 * | request head (method, target, fields) | no: read where it arrived; strings made when asked (a head straddling two blocks is copied once) | the handler settles |
 * | `Content-Length` body reads | no: views of the input | the body's next `advanceTo` |
 * | chunked body reads | no: views of each chunk's data in the input (one segment per run) | the body's next `advanceTo` |
 * | `response.end(body)` | once: the body into the output | — |
 * | `response.stream()` memory | no: write into the output's pool memory (chunk framing goes around it) | the writer's next call |
 *
 * Conformance (RFC 9112): keep-alive, pipelining (answers in order), `Content-Length` and
 * chunked request bodies (with trailers), `Expect: 100-continue`, `HEAD`, HTTP/1.0 clients,
 * `Upgrade` (101, then the raw channels); bad or ambiguous requests are refused with 400 (or
 * 413, 417, 431, 501, 505, 408) and a close. See {@linkcode serveHttp}.
 *
 * @example A server with a text route and an echo route
 * ```ts
 * import assert from "node:assert/strict";
 * import { listen } from "@channels/channels/deno";
 * import { serveHttp } from "@channels/channels/http1";
 *
 * await using listener = await listen({ port: 0 }, (connection) =>
 *   serveHttp(connection, async (request, response) => {
 *     if (request.path === "/plaintext") {
 *       response.setHeader("Content-Type", "text/plain");
 *       return response.end("Hello, World!");
 *     }
 *     if (request.path === "/echo" && request.method === "POST") {
 *       const out = response.stream();
 *       for (;;) {
 *         const { buffer, isCompleted } = await request.body.read();
 *         for (const view of buffer) await out.write(view);
 *         request.body.advanceTo(buffer.length);
 *         if (isCompleted) break;
 *       }
 *       return out.complete();
 *     }
 *     response.status = 404;
 *     response.end();
 *   }));
 * const base = `http://127.0.0.1:${listener.addr.port}`;
 * assert.equal(await (await fetch(`${base}/plaintext`)).text(), "Hello, World!");
 * assert.equal(await (await fetch(`${base}/echo`, { method: "POST", body: "ping" })).text(), "ping");
 * assert.equal((await fetch(`${base}/nothing`)).status, 404);
 * ```
 *
 * @module
 */

export { type HttpHandler, serveHttp, type ServeHttpOptions } from "./serve_http.ts";
export { HttpRequest } from "./http_request.ts";
export { HttpHeaders } from "./http_headers.ts";
export { HttpResponse } from "./http_response.ts";
