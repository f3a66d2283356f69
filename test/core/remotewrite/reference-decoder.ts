/**
 * A reference remote write 1.0 decoder for tests and benchmarks: built on protobufjs from the schema
 * below (which mirrors prompb's remote.proto and types.proto for the fields pprofcol uses), so it
 * checks pprofcol's hand-written encoder and decoder (core/remotewrite) independently of them.
 * A decoded value cannot tell the stale NaN from another NaN: protobufjs reads it through a JS
 * number. `staleSampleOffsets` finds the stale markers from the raw bytes instead.
 */
import protobuf from 'protobufjs';
import { STALE_NAN_BYTES } from '../../../core/remotewrite/encode.js';

export const REMOTE_WRITE_PROTO = `
syntax = "proto3";
package prometheus;

message WriteRequest {
  repeated TimeSeries timeseries = 1;
  reserved 2;
  repeated MetricMetadata metadata = 3;
}

message MetricMetadata {
  enum MetricType {
    UNKNOWN = 0;
    COUNTER = 1;
    GAUGE = 2;
    HISTOGRAM = 3;
    GAUGEHISTOGRAM = 4;
    SUMMARY = 5;
    INFO = 6;
    STATESET = 7;
  }
  MetricType type = 1;
  string metric_family_name = 2;
  string help = 4;
  string unit = 5;
}

message Sample {
  double value = 1;
  int64 timestamp = 2;
}

message Label {
  string name = 1;
  string value = 2;
}

message TimeSeries {
  repeated Label labels = 1;
  repeated Sample samples = 2;
}
`;

let root: protobuf.Root | undefined;

/** The protobufjs types, parsed once. */
export function remoteWriteTypes(): { WriteRequest: protobuf.Type; Root: protobuf.Root } {
  root ??= protobuf.parse(REMOTE_WRITE_PROTO, { keepCase: true }).root;
  return { WriteRequest: root.lookupType('prometheus.WriteRequest'), Root: root };
}

export interface DecodedLabel {
  name: string;
  value: string;
}
export interface DecodedSample {
  value: number;
  timestamp: number;
}
export interface DecodedSeries {
  labels: DecodedLabel[];
  samples: DecodedSample[];
}
export interface DecodedMetadata {
  type: number;
  metric_family_name: string;
  help: string;
  unit: string;
}
export interface DecodedWriteRequest {
  timeseries: DecodedSeries[];
  metadata: DecodedMetadata[];
}

/** Decodes an uncompressed WriteRequest. Timestamps come back as numbers (exact up to 2^53 ms). */
export function decodeWriteRequest(body: Uint8Array): DecodedWriteRequest {
  const { WriteRequest } = remoteWriteTypes();
  const message = WriteRequest.decode(body);
  return WriteRequest.toObject(message, { longs: Number, enums: Number, defaults: true, arrays: true }) as DecodedWriteRequest;
}

/**
 * The same decode with each timestamp as the decimal text of its int64 (protobufjs's Long, exact over
 * the whole range), for tests of timestamps near and past 2^53.
 */
export function decodeWriteRequestExact(body: Uint8Array): { timeseries: Array<{ labels: DecodedLabel[]; samples: Array<{ value: number; timestamp: string }> }> } {
  const { WriteRequest } = remoteWriteTypes();
  const message = WriteRequest.decode(body);
  return WriteRequest.toObject(message, { longs: String, enums: Number, defaults: true, arrays: true }) as {
    timeseries: Array<{ labels: DecodedLabel[]; samples: Array<{ value: number; timestamp: string }> }>;
  };
}

/** Offsets in `body` of every eight-byte stale NaN that is a Sample.value (tag 0x09 before it). */
export function staleSampleOffsets(body: Uint8Array): number[] {
  const out: number[] = [];
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  let at = buf.indexOf(STALE_NAN_BYTES);
  while (at !== -1) {
    if (at > 0 && buf[at - 1] === 0x09) out.push(at);
    at = buf.indexOf(STALE_NAN_BYTES, at + 1);
  }
  return out;
}
