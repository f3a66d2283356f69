/** The messages between DecodePool and its workers (core/pprof/pool.ts, decode-worker.ts). */

export type DecodeRequest =
  | { id: number; kind: 'profile'; data: Uint8Array; maxInflatedBytes: number; skipPrefixes: readonly string[] }
  | { id: number; kind: 'goroutine_states'; data: Uint8Array }
  /** goroutine?debug=1: goroutines by first kept frame. */
  | { id: number; kind: 'goroutine_stacks'; data: Uint8Array; skipPrefixes: readonly string[] };

export type DecodeReply =
  | {
      id: number;
      ok: true;
      /** A FunctionProfile, from a proto profile or goroutine?debug=1 stacks. */
      kind: 'functions';
      columns: string[];
      units: string[];
      totals: number[];
      /** Function names; their values are values[i * columns.length + k]. */
      names: string[];
      values: Float64Array;
      durationSeconds: number;
    }
  | { id: number; ok: true; kind: 'goroutine_states'; total: number; byState: Array<[string, number]>; waitMaxSeconds: number }
  | { id: number; ok: false; message: string; tooLarge: boolean; decode: boolean };

/**
 * A skipFrame from name prefixes: a function cannot cross to a worker, its prefixes can. The prefixes
 * are few (5 for the pprof receiver), so a loop of startsWith beats anything cleverer.
 */
export function prefixSkipper(prefixes: readonly string[]): (functionName: string) => boolean {
  return (name) => {
    for (let i = 0; i < prefixes.length; i++) if (name.startsWith(prefixes[i])) return true;
    return false;
  };
}
