// A Hugging Face checkpoint folder: config.json plus model.safetensors or a sharded set described by
// model.safetensors.index.json. Tensors are looked up by HF name across shards.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsError, SafetensorsFile, type StoredTensor, type TensorInfo } from './safetensors.js';

export class Checkpoint {
  private readonly files: SafetensorsFile[] = [];
  private readonly where = new Map<string, SafetensorsFile>();

  private constructor(readonly dir: string) {}

  /** Opens every shard and validates every header; throws with the file and tensor named. */
  static open(dir: string): Checkpoint {
    const ck = new Checkpoint(dir);
    const index = join(dir, 'model.safetensors.index.json');
    let shardNames: string[];
    let weightMap: Record<string, string> | null = null;
    if (existsSync(index)) {
      let parsed: { weight_map?: Record<string, string> };
      try {
        parsed = JSON.parse(readFileSync(index, 'utf8'));
      } catch (e) {
        throw new SafetensorsError(`${index}: not valid JSON (${(e as Error).message})`);
      }
      if (!parsed.weight_map || typeof parsed.weight_map !== 'object') throw new SafetensorsError(`${index}: missing "weight_map"`);
      weightMap = parsed.weight_map;
      shardNames = [...new Set(Object.values(weightMap))].sort();
    } else if (existsSync(join(dir, 'model.safetensors'))) {
      shardNames = ['model.safetensors'];
    } else {
      const found = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort() : [];
      if (!found.length) throw new SafetensorsError(`${dir}: no model.safetensors, model.safetensors.index.json or *.safetensors files`);
      shardNames = found;
    }
    try {
      for (const s of shardNames) {
        const p = join(dir, s);
        if (!existsSync(p)) throw new SafetensorsError(`${dir}: shard "${s}" named in the index is missing`);
        const f = new SafetensorsFile(p);
        ck.files.push(f);
        for (const name of f.tensors.keys()) {
          if (ck.where.has(name)) throw new SafetensorsError(`${dir}: tensor "${name}" appears in two shards`);
          ck.where.set(name, f);
        }
      }
      if (weightMap) {
        for (const [name, shard] of Object.entries(weightMap)) {
          const f = ck.where.get(name);
          if (!f) throw new SafetensorsError(`${dir}: index lists "${name}" in ${shard} but no shard holds it`);
        }
      }
    } catch (e) {
      ck.close();
      throw e;
    }
    return ck;
  }

  has(name: string): boolean {
    return this.where.has(name);
  }

  info(name: string): TensorInfo | undefined {
    return this.where.get(name)?.tensors.get(name);
  }

  names(): string[] {
    return [...this.where.keys()];
  }

  infos(): TensorInfo[] {
    return this.files.flatMap((f) => [...f.tensors.values()]);
  }

  read(name: string): StoredTensor {
    const f = this.where.get(name);
    if (!f) throw new SafetensorsError(`${this.dir}: checkpoint has no tensor "${name}"`);
    return f.read(name);
  }

  close(): void {
    for (const f of this.files) f.close();
  }
}
