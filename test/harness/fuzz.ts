/**
 * The seed of every fuzz test: fixed, so that a CI run is repeatable and a red run means a change, not
 * the luck of the draw; FUZZ_SEED=<n> explores other inputs (a failure prints its seed to replay).
 */
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20261201) >>> 0;
