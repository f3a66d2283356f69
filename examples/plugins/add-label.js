// A processor plugin: adds fixed labels to every metric point that passes through.
//
//   plugins: [./examples/plugins/add-label.js]
//   processors:
//     add_label:
//       labels: {team: payments}
//       overwrite: false
//
// A plugin is a module whose default export receives pprofcol's plugin API and registers
// factories with api.registerComponent, the same function pprofcol's built-ins use.

/** @param {import('pprofcol').PluginApi} api */
export default function register(api) {
  const { z } = api;

  const configSchema = z
    .object({
      // Labels to add to every point.
      labels: z.record(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'is not a valid label name'), z.string()),
      // Replace a label the point already has (default: keep the point's own value).
      overwrite: z.boolean().default(false),
    })
    .strict();

  api.registerComponent({
    kind: 'processor',
    type: 'add_label',
    accepts: ['metrics'],
    configSchema,
    create(settings, config, next) {
      const entries = Object.entries(config.labels);
      return {
        async start() {},
        async shutdown() {},
        // The batch belongs to this stage now, so changing its points is allowed; their labels may be
        // frozen (a stage took the series' identity, which the labels carry), so a point gets a changed
        // copy (api.withLabels) instead of a write into its labels.
        async consume(batch) {
          if (batch.signal === 'metrics') {
            for (const point of batch.points) {
              let changes;
              for (const [name, value] of entries) {
                if (config.overwrite || !(name in point.labels)) (changes ??= {})[name] = value;
              }
              if (changes !== undefined) point.labels = api.withLabels(point.labels, changes);
            }
          }
          await next.consume(batch);
        },
      };
    },
  });
}
