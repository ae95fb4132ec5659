// Entry point of the kernels module: every export here becomes an export of the one
// WebAssembly module that src/_wasm/kernels.ts instantiates against each pool slab.
export { memchr } from "./memchr";
