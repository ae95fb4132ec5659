/**
 * Close codes (RFC 6455 §7.4, and the IANA registry): which may travel in a close frame.
 *
 * | code | meaning | in a frame |
 * | --- | --- | --- |
 * | 0–999 | not used | never |
 * | 1000 | normal closure | yes |
 * | 1001 | going away | yes |
 * | 1002 | protocol error | yes |
 * | 1003 | unsupported data | yes |
 * | 1004 | reserved | never |
 * | 1005 | no status received (reported locally when a close frame had no code) | never |
 * | 1006 | abnormal closure (reported locally when no close frame came) | never |
 * | 1007 | invalid payload data (such as text that is not UTF-8) | yes |
 * | 1008 | policy violation | yes |
 * | 1009 | message too big | yes |
 * | 1010 | mandatory extension (client only) | yes |
 * | 1011 | internal error | yes |
 * | 1012–1014 | service restart, try again later, bad gateway (IANA) | yes |
 * | 1015 | TLS handshake failure (reported locally) | never |
 * | 1016–2999 | unassigned | never |
 * | 3000–3999 | libraries and frameworks (IANA) | yes |
 * | 4000–4999 | private use | yes |
 *
 * @module
 */

/** Normal closure. */
export const NORMAL_CLOSURE = 1000;
/** A protocol error. */
export const PROTOCOL_ERROR = 1002;
/** The close frame had no code. */
export const NO_STATUS = 1005;
/** The connection ended without a close frame. */
export const ABNORMAL_CLOSURE = 1006;
/** Data that does not match the message type (text that is not UTF-8, a stream that does not inflate). */
export const INVALID_DATA = 1007;
/** A message longer than the receiver takes. */
export const MESSAGE_TOO_BIG = 1009;
/** An unexpected condition on the server. */
export const INTERNAL_ERROR = 1011;

/** True when `code` may be sent in a close frame (and received in one without a protocol error). */
export function isSendableCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
    (code >= 3000 && code <= 4999);
}
