/**
 * The decode worker (node:worker_threads), one of DecodePool's: decodes what the pool sends, off the
 * main thread, and answers with plain data (names and a Float64Array of values, transferred, not a Map
 * that structured clone would walk entry by entry). Errors go back as their message and whether the
 * input was refused for its size.
 */
import { parentPort } from 'node:worker_threads';
import { decodeProfile } from './decode.js';
import { parseGoroutineStacks, parseGoroutineStates, ProfileDecodeError } from './text.js';
import { prefixSkipper, type DecodeReply, type DecodeRequest } from './pool-protocol.js';

const port = parentPort;
if (port === null) throw new Error('decode-worker.js runs as a worker thread only');

/** A FunctionProfile as names and one Float64Array of values (row i at i x columns). */
function packed(id: number, columns: readonly string[], units: readonly string[], totals: readonly number[], byFunction: ReadonlyMap<string, readonly number[]>, durationSeconds: number): DecodeReply & { kind: 'functions' } {
  const names = [...byFunction.keys()];
  const n = columns.length;
  const values = new Float64Array(names.length * n);
  let i = 0;
  for (const row of byFunction.values()) for (let k = 0; k < n; k++) values[i++] = row[k];
  return { id, ok: true, kind: 'functions', columns: [...columns], units: [...units], totals: [...totals], names, values, durationSeconds };
}

port.on('message', (req: DecodeRequest) => {
  let reply: DecodeReply;
  try {
    const body = Buffer.from(req.data.buffer, req.data.byteOffset, req.data.length);
    if (req.kind === 'profile') {
      const s = decodeProfile(req.data, { skipFrame: prefixSkipper(req.skipPrefixes), maxInflatedBytes: req.maxInflatedBytes });
      reply = packed(req.id, s.columns, s.units, s.totals, s.byFunction, s.durationSeconds);
    } else if (req.kind === 'goroutine_stacks') {
      const f = parseGoroutineStacks(body, prefixSkipper(req.skipPrefixes));
      reply = packed(req.id, f.columns, f.units, f.totals, f.byFunction, f.durationSeconds);
    } else {
      const states = parseGoroutineStates(body);
      reply = { id: req.id, ok: true, kind: 'goroutine_states', total: states.total, byState: [...states.byState], waitMaxSeconds: states.waitMaxSeconds };
    }
  } catch (err) {
    reply = { id: req.id, ok: false, message: err instanceof Error ? err.message : String(err), tooLarge: err instanceof ProfileDecodeError && err.tooLarge, decode: err instanceof ProfileDecodeError };
  }
  port.postMessage(reply, reply.ok && reply.kind === 'functions' ? [reply.values.buffer as ArrayBuffer] : []);
});
