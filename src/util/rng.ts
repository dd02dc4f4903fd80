/**
 * Seeded pseudo-random numbers. Every random choice in alp (data order, random starts, restarts,
 * pair selection) draws from one of these so that a run is reproducible from its seed.
 */

/** mulberry32: small, fast, good enough for shuffling and sampling; state is one 32-bit integer. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`seed must be a finite number, got ${seed}`);
    this.state = seed >>> 0;
  }

  /** A uniform float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A 31-bit integer, e.g. to seed a tf.random* op. */
  seed(): number {
    return Math.floor(this.next() * 0x7fffffff);
  }

  /** Fisher-Yates shuffle of [0, n). */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i] as number;
      p[i] = p[j] as number;
      p[j] = t;
    }
    return p;
  }

  /** The internal state, to checkpoint and restore a stream exactly. */
  getState(): number {
    return this.state;
  }

  setState(state: number): void {
    this.state = state >>> 0;
  }
}

/**
 * The seed of one example's random choices in one run of an attack, from the run seed, the run index
 * and the example's index in the dataset: results then do not depend on which other examples share
 * its batch, or on which slice of the data a run covers.
 */
export function exampleSeed(seed: number, run: number, example: number): number {
  const mixed = (seed >>> 0) ^ Math.imul(run + 1, 0x85ebca77) ^ Math.imul(example + 1, 0x9e3779b1);
  const r = new Rng(mixed >>> 0);
  r.next();
  return r.seed();
}
