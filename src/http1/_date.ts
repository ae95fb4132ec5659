// The Date field every response carries (RFC 9110 §6.6.1: an origin server with a clock MUST
// send it), as the bytes of a whole field line, made once a second. Internal.

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

let second = -1;
let line = new Uint8Array(0);

/** `"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"` for the second of `nowMs` (IMF-fixdate). */
export function dateLine(nowMs: number): Uint8Array {
  const s = Math.floor(nowMs / 1000);
  if (s !== second) {
    second = s;
    line = new TextEncoder().encode(`Date: ${imfFixdate(new Date(s * 1000))}\r\n`);
  }
  return line;
}

/** A date as IMF-fixdate (`toUTCString` gives exactly that format). */
export function imfFixdate(date: Date): string {
  const pad = (n: number) => (n < 10 ? `0${n}` : `${n}`);
  return `${DAYS[date.getUTCDay()]}, ${pad(date.getUTCDate())} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()} ${
    pad(date.getUTCHours())
  }:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} GMT`;
}
