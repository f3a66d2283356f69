// An exporter plugin: appends every point to a file, one JSON object a line.
//
//   plugins: [./examples/plugins/jsonl-file.js]
//   exporters:
//     jsonl_file:
//       path: ./metrics.jsonl     # relative to the config file's folder
//
// It shows what an exporter does: it takes batches (consume resolves once they are written, so a
// slow disk slows the pipeline instead of growing memory), reads each point's family and labels,
// turns a stale point into a marker, and counts its own work.
import { appendFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';

/** @param {import('pprofcol').PluginApi} api */
export default function register(api) {
  const { z } = api;

  const configSchema = z
    .object({
      // The file to append to; created when missing.
      path: z.string().min(1),
    })
    .strict();

  api.registerComponent({
    kind: 'exporter',
    type: 'jsonl_file',
    accepts: ['metrics'],
    configSchema,
    create(settings, config) {
      const file = isAbsolute(config.path) ? config.path : resolve(settings.configDir, config.path);
      const written = settings.telemetry.counter('pprofcol_jsonl_file_points_written_total', 'Points appended to the file.', ['exporter']);
      // One write at a time, in order: each consume() waits for the ones before it. Memory: at most the
      // batches whose callers are waiting, since no caller is answered before its batch is on disk.
      let tail = Promise.resolve();
      let closed = false;

      return {
        async start() {},
        async shutdown() {
          closed = true;
          await tail; // flush: every accepted batch is written before shutdown resolves
        },
        /** @param {import('pprofcol').Batch} batch */
        consume(batch) {
          if (closed) return Promise.reject(new Error('jsonl_file: shut down'));
          if (batch.signal !== 'metrics') return Promise.resolve();
          let text = '';
          for (const p of batch.points) {
            text += JSON.stringify({
              name: p.name,
              type: p.family.type,
              labels: p.labels,
              // A stale point ends its series: its value means nothing, so none is written.
              value: p.stale ? null : p.value,
              stale: p.stale,
              timestamp_ms: p.timestampMs,
              source: batch.source,
            }) + '\n';
          }
          const write = tail.then(() => appendFile(file, text));
          tail = write.catch(() => undefined); // a failed write does not block the ones after it
          // A rejection reaches the caller: a receiver logs it, the remote-write receiver answers 5xx.
          return write.then(() => void written.inc({ exporter: settings.id }, batch.points.length));
        },
      };
    },
  });
}
