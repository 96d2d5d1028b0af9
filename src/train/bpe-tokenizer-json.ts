// Writes a trained BPE model as Hugging Face tokenizer.json + tokenizer_config.json, with the same
// structure and control tokens as DeepSeek-V3.2's (so the project's tokenizer and chat encoding work
// unchanged), only a much smaller vocabulary.
import { DEEPSEEK_PRE_TOKENIZER, type BpeModel } from './bpe.js';

/** Added tokens at the bottom of the id range, in DeepSeek's order (ids 0, 1, 2). */
export const HEAD_SPECIAL_TOKENS = ['<｜begin▁of▁sentence｜>', '<｜end▁of▁sentence｜>', '<｜▁pad▁｜>'] as const;

/**
 * Added tokens at the top of the id range, in DeepSeek-V3.2's order (its ids 128796–128814).
 * `special: false` for search/think, as V3.2 does, so decoding with skip-special keeps <think>.
 */
export const TAIL_ADDED_TOKENS: ReadonlyArray<{ content: string; special: boolean }> = [
  { content: '<｜search▁begin｜>', special: false },
  { content: '<｜search▁end｜>', special: false },
  { content: '<think>', special: false },
  { content: '</think>', special: false },
  ...[
    '<｜fim▁hole｜>', '<｜fim▁begin｜>', '<｜fim▁end｜>', '<｜User｜>', '<｜Assistant｜>', '<|EOT|>',
    '<｜tool▁calls▁begin｜>', '<｜tool▁calls▁end｜>', '<｜tool▁call▁begin｜>', '<｜tool▁call▁end｜>',
    '<｜tool▁outputs▁begin｜>', '<｜tool▁outputs▁end｜>', '<｜tool▁output▁begin｜>', '<｜tool▁output▁end｜>',
    '<｜tool▁sep｜>',
  ].map((content) => ({ content, special: true })),
];

/** How many BPE tokens (bytes + merges) fit a total vocabulary size once the added tokens are placed. */
export function modelVocabSizeFor(totalVocabSize: number): number {
  return totalVocabSize - HEAD_SPECIAL_TOKENS.length - TAIL_ADDED_TOKENS.length;
}

const addedToken = (id: number, content: string, special: boolean) => ({
  id, content, single_word: false, lstrip: false, rstrip: false, normalized: !special, special,
});

/** tokenizer.json for a trained model; total vocabulary = 3 + model tokens + tail added tokens. */
export function toTokenizerJson(model: BpeModel): Record<string, unknown> {
  const head = HEAD_SPECIAL_TOKENS.length;
  const vocab: Record<string, number> = {};
  HEAD_SPECIAL_TOKENS.forEach((t, i) => (vocab[t] = i));
  model.tokens.forEach((t, i) => (vocab[t] = head + i));
  const tailStart = head + model.tokens.length;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      ...HEAD_SPECIAL_TOKENS.map((t, i) => addedToken(i, t, true)),
      ...TAIL_ADDED_TOKENS.map((t, i) => addedToken(tailStart + i, t.content, t.special)),
    ],
    normalizer: { type: 'Sequence', normalizers: [] },
    pre_tokenizer: DEEPSEEK_PRE_TOKENIZER,
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: model.merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

const specialConfigToken = (content: string) => ({
  __type: 'AddedToken', content, lstrip: false, normalized: true, rstrip: false, single_word: false,
});

/** tokenizer_config.json as DeepSeek-V3.2 ships it (BOS is written by the chat encoding, not added). */
export function tokenizerConfigJson(modelMaxLength: number): Record<string, unknown> {
  return {
    add_bos_token: false,
    add_eos_token: false,
    bos_token: specialConfigToken(HEAD_SPECIAL_TOKENS[0]),
    clean_up_tokenization_spaces: false,
    eos_token: specialConfigToken(HEAD_SPECIAL_TOKENS[1]),
    legacy: true,
    model_max_length: modelMaxLength,
    pad_token: specialConfigToken(HEAD_SPECIAL_TOKENS[1]),
    sp_model_kwargs: {},
    unk_token: null,
    tokenizer_class: 'LlamaTokenizerFast',
  };
}
