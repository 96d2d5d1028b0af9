// Reverse-mode autograd over Float32Array tensors. Each op output records its parents and a closure
// that, given the output's gradient, accumulates into the parents' gradients. `backward` runs those
// closures in reverse topological order. Row-major data; shape is metadata only.

export type BackwardFn = (gradOut: Float32Array) => void;

export class Tensor {
  grad: Float32Array | null = null;
  /** Set by ops; null for leaves and for results nothing upstream needs a gradient from. */
  backwardFn: BackwardFn | null = null;
  parents: readonly Tensor[] = [];

  constructor(
    public data: Float32Array,
    public shape: number[],
    public requiresGrad = false,
    public name = '',
  ) {
    let n = 1;
    for (const d of shape) n *= d;
    if (n !== data.length) throw new Error(`tensor ${name}: shape ${JSON.stringify(shape)} needs ${n} values, got ${data.length}`);
  }

  get size(): number {
    return this.data.length;
  }

  /** Last dimension (row width) — most ops treat a tensor as [rows, cols]. */
  get cols(): number {
    return this.shape[this.shape.length - 1] ?? 1;
  }

  get rows(): number {
    return this.data.length / this.cols;
  }

  /** The gradient buffer, allocated (zeroed) on first use. */
  gradBuf(): Float32Array {
    if (!this.grad) this.grad = new Float32Array(this.data.length);
    return this.grad;
  }

  zeroGrad(): void {
    if (this.grad) this.grad.fill(0);
  }

  item(): number {
    if (this.data.length !== 1) throw new Error(`item() on a tensor of ${this.data.length} values`);
    return this.data[0]!;
  }
}

export function zeros(shape: number[], requiresGrad = false, name = ''): Tensor {
  let n = 1;
  for (const d of shape) n *= d;
  return new Tensor(new Float32Array(n), shape, requiresGrad, name);
}

export function fromArray(values: ArrayLike<number>, shape: number[], requiresGrad = false, name = ''): Tensor {
  return new Tensor(Float32Array.from(values), shape, requiresGrad, name);
}

/**
 * Wraps an op result. `backward` is kept only when some parent needs a gradient, so frozen parts of
 * the model (indexer warm-up) cost no backward work or memory.
 */
export function makeResult(data: Float32Array, shape: number[], parents: Tensor[], backward: BackwardFn): Tensor {
  const needs = parents.some((p) => p.requiresGrad);
  const t = new Tensor(data, shape, needs);
  if (needs) {
    t.parents = parents;
    t.backwardFn = backward;
  }
  return t;
}

/** Same values, cut from the graph: gradients never flow through it. */
export function detach(t: Tensor): Tensor {
  return new Tensor(t.data, t.shape.slice(), false, t.name);
}

/** Runs the tape from a scalar loss (seed gradient 1, or `seed` for a non-scalar root). */
export function backward(root: Tensor, seed?: Float32Array): void {
  if (!root.requiresGrad) return;
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative post-order DFS: graphs of a deep model would overflow a recursive walk's stack.
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    if (i < t.parents.length) {
      top[1] = i + 1;
      const p = t.parents[i]!;
      if (p.requiresGrad && !seen.has(p)) {
        seen.add(p);
        stack.push([p, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  const g = root.gradBuf();
  if (seed) g.set(seed);
  else g.fill(1);
  for (let k = order.length - 1; k >= 0; k--) {
    const t = order[k]!;
    if (t.backwardFn && t.grad) t.backwardFn(t.grad);
    // Intermediate gradients are dead once propagated; drop them so big activations can be freed.
    if (t.backwardFn) {
      t.grad = null;
      t.backwardFn = null;
      t.parents = [];
    }
  }
}
