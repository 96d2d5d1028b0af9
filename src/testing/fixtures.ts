// Paths of the shared fixtures (../shared beside the checkout, as in CI) for tests and benches.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const sharedDir = process.env.DSV32_SHARED ?? join(repoRoot, '..', 'shared');
export const referenceDir = (name: 'tiny-bf16' | 'tiny-fp8') => join(sharedDir, 'fixtures', 'reference', name);
export const configsDir = join(sharedDir, 'fixtures', 'configs');
export const encodingDir = join(sharedDir, 'fixtures', 'encoding');

if (!existsSync(sharedDir)) {
  throw new Error(`shared fixtures not found at ${sharedDir} (set DSV32_SHARED to the shared/ folder)`);
}

/** golden.json has exactly the shape `dsv32 logits` writes */
export type { LogitsReport as Golden } from '../cli/commands/logits.js';

/** max |a−b| / max |b|: the relative error the golden tests bound. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    m = Math.max(m, Math.abs(b[i]!));
  }
  return d / m;
}
