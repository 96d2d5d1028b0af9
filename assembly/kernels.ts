// WebAssembly SIMD128 kernels of the wasm backend (src/kernels/wasm). Raw pointers into one imported
// shared memory; no GC objects. Every thread instantiates this module on the same memory, so its only
// data segment (Mathf.exp's constant table, below 64 KiB) is re-copied with identical bytes each time;
// the backend's allocator never hands out the first 64 KiB.
// Every kernel that is split across threads takes its own row range [n0, n1).
// Formats: FMT_F32 rows as stored; FMT_BF16 rows as stored; FMT_FP8 e4m3 rows + fp32 scales per
// 128×128 block; q8 = int8 rows padded to a multiple of 32 + one fp32 scale per 32.
//
// The entry module of the build (scripts/build-wasm.mjs); every kernel the backend calls is exported here:
//   common.ts    format codes, multiply-add, FP8 e4m3 decoding (decode_fp8)
//   gemv.ts      M = 1 products for f32 / bf16 / fp8 rows
//   gemm.ts      M > 1 products: packed panels and a 4×8 register block
//   q8.ts        int8 blocks of 32: activation quantisation, load-time repack, the int8 product
//   grouped.ts   G stacked matrices with one input row each (the heads' absorbed attention weights)
//   activation.ts SwiGLU and prefill attention's causal softmax (vectorised exp from common.ts)
//   attention.ts indexer scores
//   flash.ts     absorbed (MQA) attention over the latent cache: tiles, online softmax, merged parts

export { decode_fp8 } from './common';
export { gemv_bf16, gemv_f32, gemv_fp8, unpack_rows } from './gemv';
export { gemm } from './gemm';
export { dequant_q8, gemm_q8, quant_q8, repack_q8, unpack_q8 } from './q8';
export { gemv_grouped, gemv_list, gemv_q8_grouped } from './grouped';
export { softmax_causal, softmax_sel, swiglu } from './activation';
export { indexer_scores } from './attention';
export { flash_merge, flash_part } from './flash';
