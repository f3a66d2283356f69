/**
 * The seed of every fuzz test: fixed, so that a CI run is repeatable and a red run means a change, not
 * the luck of the draw; FUZZ_SEED=<n> explores other inputs (a failure prints its seed to replay).
 */
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20261201) >>> 0;

/** A small deterministic PRNG (xorshift32): rand(n) in [0, n), so a failure can be replayed from the seed it prints (FUZZ_SEED=...). */
export function rng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}
