/** debug: prints each batch as Prometheus text exposition on stdout, for a newcomer to see what flows. */
import type { Batch, CreateSettings, Exporter } from '../../core/component.js';
import { formatExposition } from '../../core/exposition.js';
import type { DebugExporterConfig } from './config.js';

export class DebugExporter implements Exporter {
  constructor(
    _settings: CreateSettings,
    private readonly config: DebugExporterConfig,
    private readonly write: (text: string) => void = (text) => process.stdout.write(text),
  ) {}

  async start(): Promise<void> {}

  async consume(batch: Batch): Promise<void> {
    if (batch.signal !== 'metrics' || batch.points.length === 0) return;
    this.write(`# batch from ${batch.source}, ${batch.points.length} points\n${formatExposition(batch.points, { timestamps: this.config.timestamps })}`);
  }

  async shutdown(): Promise<void> {}
}
