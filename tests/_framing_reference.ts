// Reference framing: the behaviour of lengthPrefixed() and delimited() written the plain way,
// over one contiguous Uint8Array, frame after frame, for differential tests. No channel, no
// segments, no resumable scans: a search starts at the frame's start and runs to the end.
// Not a test file (no _test suffix).

/** What the reference decoders take (the options of the real framers, all spelled out). */
export interface ReferenceLengthOptions {
  lengthFieldLength: 1 | 2 | 3 | 4 | 8 | "varint";
  littleEndian: boolean;
  lengthFieldOffset: number;
  lengthAdjustment: number;
  /** `undefined`: the header (offset + the length field's size). */
  bytesToStrip: number | undefined;
  maxFrameLength: number;
}

export interface ReferenceDelimitedOptions {
  /** `"\r\n"` (as a string) is line mode: a lone "\n" ends a line too. */
  delimiter: string | Uint8Array;
  maxLength: number;
  keepDelimiter: boolean;
}

/** Why decoding stopped early. */
export type ReferenceError =
  /** `frameLength` exact unless `atLeast`. */
  | { kind: "too-large"; frameLength: number; maxFrameLength: number; atLeast: boolean }
  | { kind: "truncated"; bytesLeft: number }
  | { kind: "varint-too-long" }
  | { kind: "negative-length"; frameLength: number }
  | { kind: "strip-past-frame"; bytesToStrip: number; frameBytes: number };

/** The frames decoded before the stream ended or an error stopped decoding. */
export interface ReferenceResult {
  frames: Uint8Array[];
  error: ReferenceError | undefined;
}

/** Decodes a whole stream of length-prefixed frames. */
export function referenceLengthPrefixed(stream: Uint8Array, o: ReferenceLengthOptions): ReferenceResult {
  const frames: Uint8Array[] = [];
  const fail = (error: ReferenceError): ReferenceResult => ({ frames, error });
  let pos = 0;
  while (pos < stream.length) {
    const left = stream.length - pos;
    const fieldAt = pos + o.lengthFieldOffset;
    let value = 0;
    let fieldSize: number;
    if (o.lengthFieldLength === "varint") {
      // Little groups of 7 bits, least significant first; each byte can only add to the value.
      fieldSize = 0;
      for (;;) {
        if (fieldAt + fieldSize >= stream.length) return fail({ kind: "truncated", bytesLeft: left });
        const byte = stream[fieldAt + fieldSize] as number;
        value += (byte % 128) * 2 ** (7 * fieldSize);
        fieldSize++;
        if (value + o.lengthAdjustment > o.maxFrameLength) {
          return fail({
            kind: "too-large",
            frameLength: value + o.lengthAdjustment,
            maxFrameLength: o.maxFrameLength,
            atLeast: byte >= 128,
          });
        }
        if (byte < 128) break;
        if (fieldSize === 10) return fail({ kind: "varint-too-long" });
      }
    } else {
      fieldSize = o.lengthFieldLength;
      if (fieldAt + fieldSize > stream.length) return fail({ kind: "truncated", bytesLeft: left });
      const field = Array.from(stream.subarray(fieldAt, fieldAt + fieldSize));
      if (o.littleEndian) field.reverse();
      for (const byte of field) value = value * 256 + byte;
    }
    const frameLength = value + o.lengthAdjustment;
    if (frameLength > o.maxFrameLength) {
      return fail({ kind: "too-large", frameLength, maxFrameLength: o.maxFrameLength, atLeast: false });
    }
    if (frameLength < 0) return fail({ kind: "negative-length", frameLength });
    const header = o.lengthFieldOffset + fieldSize;
    const frameBytes = header + frameLength;
    const strip = o.bytesToStrip ?? header;
    if (strip > frameBytes) return fail({ kind: "strip-past-frame", bytesToStrip: strip, frameBytes });
    if (frameBytes > left) return fail({ kind: "truncated", bytesLeft: left });
    frames.push(stream.slice(pos + strip, pos + frameBytes));
    pos += frameBytes;
  }
  return { frames, error: undefined };
}

/** The bytes of a length field holding `value` (which must fit). */
export function referenceLengthField(
  value: number,
  lengthFieldLength: ReferenceLengthOptions["lengthFieldLength"],
  littleEndian: boolean,
): Uint8Array {
  const bytes: number[] = [];
  if (lengthFieldLength === "varint") {
    let v = value;
    do {
      const group = v % 128;
      v = Math.floor(v / 128);
      bytes.push(v > 0 ? group + 128 : group);
    } while (v > 0);
    return new Uint8Array(bytes);
  }
  let v = value;
  for (let i = 0; i < lengthFieldLength; i++) {
    bytes.push(v % 256);
    v = Math.floor(v / 256);
  }
  if (!littleEndian) bytes.reverse();
  return new Uint8Array(bytes);
}

/** What a length-prefixed encoder must write for `payload` (offset 0, the header stripped). */
export function referenceEncodeLengthPrefixed(payload: Uint8Array, o: ReferenceLengthOptions): Uint8Array {
  const field = referenceLengthField(payload.length - o.lengthAdjustment, o.lengthFieldLength, o.littleEndian);
  const out = new Uint8Array(field.length + payload.length);
  out.set(field);
  out.set(payload, field.length);
  return out;
}

function delimiterBytes(delimiter: string | Uint8Array): Uint8Array {
  return typeof delimiter === "string" ? new TextEncoder().encode(delimiter) : delimiter;
}

function naiveIndexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = from; i + needle.length <= haystack.length; i++) {
    for (let k = 0; k < needle.length; k++) if (haystack[i + k] !== needle[k]) continue outer;
    return i;
  }
  return -1;
}

/** Decodes a whole stream of delimited frames. */
export function referenceDelimited(stream: Uint8Array, o: ReferenceDelimitedOptions): ReferenceResult {
  const frames: Uint8Array[] = [];
  const lines = o.delimiter === "\r\n";
  const delimiter = delimiterBytes(o.delimiter);
  const needle = lines ? new Uint8Array([10]) : delimiter;
  let pos = 0;
  while (pos < stream.length) {
    const found = naiveIndexOf(stream, needle, pos);
    if (found < 0) {
      const seen = stream.length - pos;
      // A frame may be maxLength bytes, then its delimiter: more bytes than that without a
      // delimiter prove the frame too long, at least as long as the bytes where none can start.
      if (seen >= o.maxLength + delimiter.length) {
        const atLeast = lines ? seen - 1 : seen - delimiter.length + 1;
        return {
          frames,
          error: { kind: "too-large", frameLength: atLeast, maxFrameLength: o.maxLength, atLeast: true },
        };
      }
      return { frames, error: { kind: "truncated", bytesLeft: seen } };
    }
    let end = found;
    if (lines && found > pos && stream[found - 1] === 13) end--;
    if (end - pos > o.maxLength) {
      return {
        frames,
        error: { kind: "too-large", frameLength: end - pos, maxFrameLength: o.maxLength, atLeast: false },
      };
    }
    const next = found + needle.length;
    frames.push(stream.slice(pos, o.keepDelimiter ? next : end));
    pos = next;
  }
  return { frames, error: undefined };
}

/**
 * What a delimited encoder must write for `payload`: payload + delimiter, or `undefined` when
 * that would not decode back to exactly this payload (the encoder must refuse it).
 */
export function referenceEncodeDelimited(payload: Uint8Array, o: ReferenceDelimitedOptions): Uint8Array | undefined {
  const delimiter = delimiterBytes(o.delimiter);
  const out = new Uint8Array(payload.length + delimiter.length);
  out.set(payload);
  out.set(delimiter, payload.length);
  const { frames, error } = referenceDelimited(out, { ...o, keepDelimiter: false, maxLength: Number.MAX_SAFE_INTEGER });
  const back = frames[0];
  if (error !== undefined || frames.length !== 1 || back === undefined || back.length !== payload.length) {
    return undefined;
  }
  return out;
}
