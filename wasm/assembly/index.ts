// Entry point of the kernels module: every export here becomes an export of the one
// WebAssembly module that src/_wasm/kernels.ts instantiates against each pool slab.
export { memchr } from "./memchr";
export { utf8Validate } from "./utf8";
export { base64Decode, base64Encode } from "./base64";
export { mask } from "./mask";
