/**
 * UTF-8 where the bytes lie: {@linkcode Utf8Decoder} (a streaming decoder whose output is
 * identical to `TextDecoder`'s, src/utf8_decoder.ts) and {@linkcode validateUtf8}
 * (src/utf8_validate.ts). Both run on the kernel layer (src/_wasm/), which picks the
 * WebAssembly kernel, the runtime's own implementation or TypeScript per runtime and size.
 *
 * @module
 */

export { type Utf8DecodeOptions, Utf8Decoder, type Utf8DecoderOptions } from "./utf8_decoder.ts";
export { type Utf8Validation, validateUtf8 } from "./utf8_validate.ts";
