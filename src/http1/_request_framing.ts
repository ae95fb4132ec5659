// What a parsed request head means for the connection (RFC 9112 §6, §9; RFC 9110 §7.2,
// §10.1.1): how long the body is, whether the connection stays open, whether the client waits
// for 100 Continue, whether it asks for an upgrade. Every ambiguity a request smuggler relies
// on is an error here, answered with 400 and a close:
//
// - Content-Length with Transfer-Encoding; Transfer-Encoding in HTTP/1.0;
// - Content-Length values that differ (in one field's list or across fields), or that are not
//   1*DIGIT;
// - Transfer-Encoding whose last coding is not chunked, or with chunked twice (other codings
//   before chunked are not implemented: 501);
// - no Host in HTTP/1.1, more than one Host, or a Host with bytes no authority has.
//
// Internal.

import { CLASS, equalsLower, TCHAR, WS } from "./_chars.ts";
import type { HeadParser } from "./_head_parser.ts";

/** No body. */
export const BODY_NONE = 0;
/** A body of `contentLength` bytes. */
export const BODY_LENGTH = 1;
/** A chunked body. */
export const BODY_CHUNKED = 2;

/** The framing of one request; the connection reuses one for every request. */
export class RequestFraming {
  /** BODY_NONE, BODY_LENGTH or BODY_CHUNKED. */
  body: number = BODY_NONE;
  /** The body's length for BODY_LENGTH. */
  contentLength = 0;
  /** The connection may serve another request after this one. */
  keepAlive = true;
  /** `Expect: 100-continue`. */
  expectContinue = false;
  /** An `Upgrade` field in an HTTP/1.1 request. */
  upgrade = false;
  /** Why the head was refused (with the status `frameRequest` returned). */
  reason = "";
}

// Bytes an authority (uri-host [":" port]) may hold: unreserved, pct-encoded, sub-delims,
// ":" and the brackets of an IP literal (RFC 3986 §3.2).
const HOST_BYTES: Uint8Array = /* @__PURE__ */ (() => {
  const table = new Uint8Array(256);
  const allowed = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%!$&'()*+,;=:[]";
  for (let i = 0; i < allowed.length; i++) table[allowed.charCodeAt(i)] = 1;
  return table;
})();

/**
 * Reads the fields that frame the request. `bytes[offset + k]` is the head's byte `k`.
 *
 * @returns 0 when the request is framed, else the status to answer with (400, 413, 417, 501);
 * `out.reason` says why.
 */
export function frameRequest(
  head: HeadParser,
  bytes: Uint8Array,
  offset: number,
  maxBodyBytes: number,
  out: RequestFraming,
): number {
  const http11 = head.versionMinor !== 0;
  const fields = head.fields;
  let hosts = 0;
  let contentLength = -1;
  let transferEncoding = false;
  let chunked = false; // the last coding so far is chunked
  let chunkedSeen = false;
  let otherCoding = false;
  let close = false;
  let keepAlive = false;
  let connectionUpgrade = false;
  let upgrade = false;
  let expectContinue = false;
  for (let f = 0, n = head.fieldCount * 4; f < n; f += 4) {
    const nameStart = offset + (fields[f] as number);
    const nameEnd = offset + (fields[f + 1] as number);
    const valueStart = offset + (fields[f + 2] as number);
    const valueEnd = offset + (fields[f + 3] as number);
    switch (nameEnd - nameStart) {
      case 4:
        if (equalsLower(bytes, nameStart, nameEnd, "host")) {
          hosts++;
          for (let i = valueStart; i < valueEnd; i++) {
            if (HOST_BYTES[bytes[i] as number] !== 1) return refuse(out, 400, "the Host field is not an authority");
          }
        }
        break;
      case 6:
        if (equalsLower(bytes, nameStart, nameEnd, "expect")) {
          if (!equalsLower(bytes, valueStart, valueEnd, "100-continue")) {
            return refuse(out, 417, "the Expect field is not 100-continue");
          }
          expectContinue = true;
        }
        break;
      case 7:
        if (equalsLower(bytes, nameStart, nameEnd, "upgrade")) upgrade = true;
        break;
      case 10:
        if (equalsLower(bytes, nameStart, nameEnd, "connection")) {
          for (let i = valueStart; i < valueEnd;) {
            const [start, end] = nextElement(bytes, i, valueEnd);
            i = end;
            if (equalsLower(bytes, start, end, "close")) close = true;
            else if (equalsLower(bytes, start, end, "keep-alive")) keepAlive = true;
            else if (equalsLower(bytes, start, end, "upgrade")) connectionUpgrade = true;
          }
        }
        break;
      case 14:
        if (equalsLower(bytes, nameStart, nameEnd, "content-length")) {
          let elements = 0;
          for (let i = valueStart; i < valueEnd;) {
            const [start, end] = nextElement(bytes, i, valueEnd);
            i = end;
            if (start === end) continue;
            elements++;
            const value = parseDigits(bytes, start, end);
            if (value === -1) return refuse(out, 400, "a Content-Length is not a decimal number");
            if (contentLength !== -1 && value !== contentLength) {
              return refuse(out, 400, "Content-Length values differ");
            }
            contentLength = value;
          }
          if (elements === 0) return refuse(out, 400, "a Content-Length field is empty");
        }
        break;
      case 17:
        if (equalsLower(bytes, nameStart, nameEnd, "transfer-encoding")) {
          transferEncoding = true;
          for (let i = valueStart; i < valueEnd;) {
            const [start, end] = nextElement(bytes, i, valueEnd);
            i = end;
            if (start === end) continue;
            if (equalsLower(bytes, start, end, "chunked")) {
              if (chunkedSeen) return refuse(out, 400, "Transfer-Encoding has chunked twice");
              chunkedSeen = chunked = true;
            } else {
              if (!isTokenRun(bytes, start, end) || chunkedSeen) {
                return refuse(out, 400, "Transfer-Encoding does not end in chunked");
              }
              otherCoding = true;
              chunked = false;
            }
          }
        }
        break;
    }
  }
  if (http11 ? hosts !== 1 : hosts > 1) {
    return refuse(out, 400, hosts === 0 ? "an HTTP/1.1 request has no Host" : "the request has more than one Host");
  }
  out.body = BODY_NONE;
  out.contentLength = 0;
  if (transferEncoding) {
    if (!http11) return refuse(out, 400, "an HTTP/1.0 request has Transfer-Encoding");
    if (contentLength !== -1) return refuse(out, 400, "the request has both Content-Length and Transfer-Encoding");
    if (!chunked) return refuse(out, 400, "Transfer-Encoding does not end in chunked");
    if (otherCoding) return refuse(out, 501, "a transfer coding other than chunked is not implemented");
    out.body = BODY_CHUNKED;
  } else if (contentLength > 0) {
    if (contentLength > maxBodyBytes) return refuse(out, 413, "the Content-Length is larger than maxBodyBytes");
    out.body = BODY_LENGTH;
    out.contentLength = contentLength;
  } else if (contentLength === -2) {
    return refuse(out, 413, "the Content-Length is larger than maxBodyBytes");
  }
  out.keepAlive = !close && (http11 || keepAlive);
  out.expectContinue = expectContinue && http11;
  out.upgrade = upgrade && connectionUpgrade && http11;
  out.reason = "";
  return 0;
}

function refuse(out: RequestFraming, status: number, reason: string): number {
  out.reason = reason;
  out.keepAlive = false;
  return status;
}

// The element of a comma-separated list at or after `i`: [start, end), OWS trimmed, empty
// at the end of the list. The caller goes on from `end` (the comma is skipped next time).
// One shared pair: the callers destructure it at once.
const element: [number, number] = [0, 0];
function nextElement(bytes: Uint8Array, i: number, end: number): [number, number] {
  while (i < end && (bytes[i] === 0x2c || ((CLASS[bytes[i] as number] as number) & WS) !== 0)) i++;
  const start = i;
  let last = i;
  for (; i < end && bytes[i] !== 0x2c; i++) {
    if (((CLASS[bytes[i] as number] as number) & WS) === 0) last = i + 1;
  }
  element[0] = start;
  element[1] = last;
  return element;
}

/** 1*DIGIT as a number; -1 when not digits; -2 when above Number.MAX_SAFE_INTEGER. */
function parseDigits(bytes: Uint8Array, start: number, end: number): number {
  let value = 0;
  for (let i = start; i < end; i++) {
    const d = (bytes[i] as number) - 0x30;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value > Number.MAX_SAFE_INTEGER ? -2 : value;
}

function isTokenRun(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (((CLASS[bytes[i] as number] as number) & TCHAR) === 0) return false;
  return true;
}
