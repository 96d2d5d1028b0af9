// Tokenizer public surface.
export { Tokenizer, TokenizerError } from './tokenizer.js';
export type { AddedToken, EncodeOptions, DecodeOptions, TokenizerOptions } from './tokenizer.js';
export { StreamDecoder } from './stream-decoder.js';
export type { StreamDecoderOptions } from './stream-decoder.js';
export { deepseekV3, deepseekV32, toV32TokenizerJson, V32_RENAMED_TOKENS } from './deepseek.js';
