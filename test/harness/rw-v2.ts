// Remote write 2.0 for the tests: a protobufjs schema written from the 2.0 spec (rc.4) and
// prometheus/prometheus's prompb/io/prometheus/write/v2/types.proto, and a decoder that resolves refs.
import protobuf from 'protobufjs';

export const V2_PROTO = `
syntax = "proto3";
package io.prometheus.write.v2;

message Request {
  reserved 1 to 3;
  repeated string symbols = 4;
  repeated TimeSeries timeseries = 5;
}
message TimeSeries {
  repeated uint32 labels_refs = 1;
  repeated Sample samples = 2;
  repeated Exemplar exemplars = 4;
  Metadata metadata = 5;
  reserved 6;
}
message Exemplar { repeated uint32 labels_refs = 1; double value = 2; int64 timestamp = 3; }
message Sample {
  double value = 1;
  int64 timestamp = 2;
  int64 start_timestamp = 3;
}
message Metadata {
  enum MetricType {
    METRIC_TYPE_UNSPECIFIED = 0;
    METRIC_TYPE_COUNTER = 1;
    METRIC_TYPE_GAUGE = 2;
    METRIC_TYPE_HISTOGRAM = 3;
    METRIC_TYPE_GAUGEHISTOGRAM = 4;
    METRIC_TYPE_SUMMARY = 5;
    METRIC_TYPE_INFO = 6;
    METRIC_TYPE_STATESET = 7;
  }
  MetricType type = 1;
  uint32 help_ref = 3;
  uint32 unit_ref = 4;
}
`;

export interface V2Series {
  labels: Record<string, string>;
  /** labels_refs as sent. */
  refs: number[];
  samples: { value: number; timestamp: number; start_timestamp: number }[];
  metadata: { type: number; help_ref: number; unit_ref: number; help: string; unit: string } | undefined;
}
export interface V2Decoded {
  symbols: string[];
  series: V2Series[];
}

let root: protobuf.Root | undefined;

export function decodeV2(body: Uint8Array): V2Decoded {
  root ??= protobuf.parse(V2_PROTO, { keepCase: true }).root;
  const type = root.lookupType('io.prometheus.write.v2.Request');
  const obj = type.toObject(type.decode(body), { longs: Number, enums: Number, defaults: true, arrays: true }) as {
    symbols: string[];
    timeseries: { labels_refs: number[]; samples: { value: number; timestamp: number; start_timestamp: number }[]; metadata?: { type: number; help_ref: number; unit_ref: number } }[];
  };
  const symbols = obj.symbols;
  const series = obj.timeseries.map((ts) => {
    const labels: Record<string, string> = {};
    for (let i = 0; i < ts.labels_refs.length; i += 2) labels[symbols[ts.labels_refs[i]]] = symbols[ts.labels_refs[i + 1]];
    const m = ts.metadata;
    return {
      labels,
      refs: ts.labels_refs,
      samples: ts.samples,
      metadata: m === undefined || m === null ? undefined : { ...m, help: symbols[m.help_ref], unit: symbols[m.unit_ref] },
    };
  });
  return { symbols, series };
}
