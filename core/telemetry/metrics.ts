/**
 * pprofcol's own metrics. One registry per running service; components ask for their counters
 * through `counter()`/`gauge()`, which return the existing metric when two instances of one
 * component type (two pprof receivers) declare the same name.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export class Telemetry {
  readonly registry = new Registry();

  counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    const known = this.registry.getSingleMetric(name);
    if (known !== undefined) return known as Counter<L>;
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  gauge<L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> {
    const known = this.registry.getSingleMetric(name);
    if (known !== undefined) return known as Gauge<L>;
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  histogram<L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]): Histogram<L> {
    const known = this.registry.getSingleMetric(name);
    if (known !== undefined) return known as Histogram<L>;
    return new Histogram({ name, help, labelNames, buckets, registers: [this.registry] });
  }
}
