// Status lines: "HTTP/1.1 200 OK\r\n" as bytes, made once per status code, and with the Date
// line after it, made once a second (one copy into the output instead of two). Internal.

import { dateLine } from "./_date.ts";

// Reason phrases of RFC 9110 §15 (and 429/431 of RFC 6585); any other code gets an empty
// reason, which RFC 9112 §4 allows.
const REASONS: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  201: "Created",
  202: "Accepted",
  203: "Non-Authoritative Information",
  204: "No Content",
  205: "Reset Content",
  206: "Partial Content",
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  421: "Misdirected Request",
  422: "Unprocessable Content",
  426: "Upgrade Required",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

const lines: (Uint8Array | undefined)[] = [];

/** The reason phrase of `status` ("" when it has none here). */
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? "";
}

/** `"HTTP/1.1 <status> <reason>\r\n"` for a status from 100 to 999. */
export function statusLine(status: number): Uint8Array {
  let line = lines[status];
  if (line === undefined) {
    line = new TextEncoder().encode(`HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n`);
    lines[status] = line;
  }
  return line;
}

const withDate: ({ second: number; bytes: Uint8Array } | undefined)[] = [];

/** The status line of `status` followed by the Date line of `nowMs`'s second. */
export function statusAndDateLines(status: number, nowMs: number): Uint8Array {
  const second = Math.floor(nowMs / 1000);
  let entry = withDate[status];
  if (entry === undefined || entry.second !== second) {
    const line = statusLine(status);
    const date = dateLine(nowMs);
    const bytes = new Uint8Array(line.length + date.length);
    bytes.set(line);
    bytes.set(date, line.length);
    entry = { second, bytes };
    withDate[status] = entry;
  }
  return entry.bytes;
}
