/**
 * Seeded pseudo-random generator for environments: sfc32 (Small Fast Counting, 128-bit state),
 * seeded through splitmix32. Allocation-free, and its state can be saved and restored exactly
 * (checkpoints). Environments draw every random number from one instance (spec §2.13, §3.19).
 */
export class Rng {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;

  constructor(seed = 0) {
    this.seed(seed);
  }

  /** Re-initialise from an integer seed (any JS number; its integer part modulo 2^32 is used). */
  seed(seed: number): void {
    let s = Math.trunc(seed) >>> 0;
    const next = (): number => {
      // splitmix32: decorrelates nearby seeds so seed and seed+1 give unrelated streams.
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  random(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n) for 1 <= n <= 2^32, unbiased. */
  int(n: number): number {
    if (n <= 2097152 && n >= 1 && (n | 0) === n) {
      // Lemire's multiply-shift with rejection: x·n is exact in a double for n < 2^21, and the
      // (slow) modulo that sets the rejection threshold is only computed in the rare low-bits case.
      let m = this.nextUint32() * n;
      let low = m >>> 0; // ToUint32: m mod 2^32, exact for integers below 2^53
      if (low < n) {
        const threshold = (4294967296 - n) % n;
        while (low < threshold) {
          m = this.nextUint32() * n;
          low = m >>> 0;
        }
      }
      return Math.floor(m / 4294967296);
    }
    if (!(n >= 1) || n > 4294967296 || !Number.isInteger(n)) {
      throw new RangeError(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    }
    const limit = 4294967296 - (4294967296 % n);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % n;
  }

  /** Uniform integer in [lo, hi] inclusive. */
  intInclusive(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability p. */
  bernoulli(p: number): boolean {
    return this.random() < p;
  }

  /** In-place Fisher-Yates shuffle of the first `n` entries (default: all). */
  shuffle<T extends { [i: number]: unknown; length: number }>(arr: T, n = arr.length): T {
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = arr[i];
      arr[i] = arr[j];
      arr[j] = tmp;
    }
    return arr;
  }

  /** The full generator state, for checkpoints. */
  getState(): [number, number, number, number] {
    return [this.a, this.b, this.c, this.d];
  }

  setState(state: readonly number[]): void {
    if (state.length !== 4 || state.some((v) => !Number.isInteger(v))) {
      throw new TypeError("Rng.setState: expected 4 integers");
    }
    [this.a, this.b, this.c, this.d] = state.map((v) => v | 0) as [number, number, number, number];
  }
}
