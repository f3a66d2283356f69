// A receiver plugin: probes HTTP URLs on an interval and hands on two gauges per URL, as the
// blackbox exporter names them:
//
//   plugins: [./examples/plugins/http-probe.js]
//   receivers:
//     http_probe:
//       targets: ["http://127.0.0.1:9090/-/healthy"]
//       interval: 15s             # default 15s
//       timeout: 5s               # default 5s; at most interval
//
// It shows what a receiver does that a processor does not: it makes the batches (api.metricBatch),
// the points (a family shared by all of them, labels from api.makeLabels), waits for consume() before
// its next round (backpressure), survives a consume() that throws, and counts its own work.

/** @param {import('pprofcol').PluginApi} api */
export default function register(api) {
  const { z, configTypes } = api;

  const configSchema = z
    .object({
      // URLs to GET; each one's labels are job="http_probe" and instance=<the URL>.
      targets: z.array(z.string().url()).min(1),
      // Between the starts of two rounds (Prometheus duration syntax, parsed to ms).
      interval: configTypes.duration.default('15s'),
      // One request's limit; a slower answer counts as a failure.
      timeout: configTypes.duration.default('5s'),
    })
    .strict()
    .refine((c) => c.timeout <= c.interval, { message: 'timeout must not exceed interval', path: ['timeout'] });

  // Families are constants: made once, shared by every point, never changed.
  /** @type {import('pprofcol').MetricFamily} */
  const SUCCESS = { name: 'probe_success', type: 'gauge', help: 'Displays whether or not the probe was a success', unit: '' };
  /** @type {import('pprofcol').MetricFamily} */
  const DURATION = { name: 'probe_duration_seconds', type: 'gauge', help: 'Returns how long the probe took to complete in seconds', unit: 'seconds' };

  api.registerComponent({
    kind: 'receiver',
    type: 'http_probe',
    produces: 'metrics',
    configSchema,
    create(settings, config, next) {
      // Own metrics, on pprofcol's telemetry listener beside the built-ins'.
      const probes = settings.telemetry.counter('pprofcol_http_probe_requests_total', 'Probes made, by result.', ['receiver', 'result']);
      /** @type {NodeJS.Timeout | undefined} */
      let timer;
      let stopped = false;
      let round = Promise.resolve();
      let failing = false;

      /**
       * @param {string} url
       * @param {number} timestampMs
       * @returns {Promise<import('pprofcol').Point[]>}
       */
      async function probe(url, timestampMs) {
        const started = performance.now();
        let ok = false;
        try {
          const res = await fetch(url, { signal: AbortSignal.timeout(config.timeout) });
          await res.arrayBuffer();
          ok = res.status >= 200 && res.status < 300;
        } catch {
          ok = false;
        }
        probes.inc({ receiver: settings.id, result: ok ? 'success' : 'failure' });
        const labels = api.makeLabels();
        labels.job = 'http_probe';
        labels.instance = url;
        const seconds = (performance.now() - started) / 1000;
        return [
          { family: SUCCESS, name: SUCCESS.name, labels, value: ok ? 1 : 0, timestampMs, stale: false, note: ok ? undefined : `GET ${url} failed` },
          // Each point gets its own label set: a later stage may change one point's labels in place.
          { family: DURATION, name: DURATION.name, labels: api.copyLabels(labels), value: seconds, timestampMs, stale: false },
        ];
      }

      async function runRound() {
        const timestampMs = Date.now();
        const points = (await Promise.all(config.targets.map((url) => probe(url, timestampMs)))).flat();
        try {
          // Resolves once every exporter of the pipeline holds the points; may wait (a full queue).
          await next.consume(api.metricBatch(settings.id, points));
          if (failing) settings.logger.info('next stage takes probes again');
          failing = false;
        } catch (err) {
          // The round's points are lost (the stage that refused counted them); log once per run of failures.
          if (!failing) settings.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'next stage refused a probe round');
          failing = true;
        }
      }

      function schedule() {
        if (stopped) return;
        timer = setTimeout(() => {
          round = runRound().finally(schedule); // the next round waits for this one: no pile-up
        }, config.interval);
      }

      return {
        async start() {
          round = runRound().finally(schedule); // returns at once; the first round runs in the background
        },
        async shutdown() {
          stopped = true;
          clearTimeout(timer);
          await round;
        },
      };
    },
  });
}
