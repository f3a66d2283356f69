/**
 * The decode worker (node:worker_threads), one of DecodePool's: decodes what the pool sends, off the
 * main thread, and answers with plain data (names and a Float64Array of values, transferred, not a Map
 * that structured clone would walk entry by entry). Errors go back as their message and whether the
 * input was refused for its size.
 */
import { parentPort } from 'node:worker_threads';
import { decodeProfile } from './decode.js';
import { parseGoroutineStates, ProfileDecodeError } from './text.js';
import { prefixSkipper, type DecodeReply, type DecodeRequest } from './pool-protocol.js';

const port = parentPort;
if (port === null) throw new Error('decode-worker.js runs as a worker thread only');

port.on('message', (req: DecodeRequest) => {
  let reply: DecodeReply;
  try {
    if (req.kind === 'profile') {
      const s = decodeProfile(req.data, { skipFrame: prefixSkipper(req.skipPrefixes), maxInflatedBytes: req.maxInflatedBytes });
      const names = [...s.byFunction.keys()];
      const n = s.sampleTypes.length;
      const values = new Float64Array(names.length * n);
      let i = 0;
      for (const row of s.byFunction.values()) for (let k = 0; k < n; k++) values[i++] = row[k];
      reply = { id: req.id, ok: true, kind: 'profile', columns: s.sampleTypes.map((t) => t.type), units: s.sampleTypes.map((t) => t.unit), totals: s.totals, names, values, durationNanos: s.durationNanos };
      port.postMessage(reply, [values.buffer]);
      return;
    }
    const states = parseGoroutineStates(Buffer.from(req.data.buffer, req.data.byteOffset, req.data.length));
    reply = { id: req.id, ok: true, kind: 'goroutine_states', total: states.total, byState: [...states.byState], waitMaxSeconds: states.waitMaxSeconds };
  } catch (err) {
    reply = { id: req.id, ok: false, message: err instanceof Error ? err.message : String(err), tooLarge: err instanceof ProfileDecodeError && err.tooLarge, decode: err instanceof ProfileDecodeError };
  }
  port.postMessage(reply);
});
