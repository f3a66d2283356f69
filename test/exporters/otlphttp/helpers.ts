// Shared by the otlphttp tests: a capture server that decodes OTLP/HTTP requests (protobuf through the
// schema below, written from opentelemetry-proto's metrics.proto, common.proto, resource.proto and
// metrics_service.proto for the fields pprofcol sends, or JSON), and a protobufjs decoder.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';

export const OTLP_METRICS_PROTO = `
syntax = "proto3";
package opentelemetry.proto;

message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    bytes bytes_value = 7;
  }
}
message KeyValue { string key = 1; AnyValue value = 2; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }

enum AggregationTemporality {
  AGGREGATION_TEMPORALITY_UNSPECIFIED = 0;
  AGGREGATION_TEMPORALITY_DELTA = 1;
  AGGREGATION_TEMPORALITY_CUMULATIVE = 2;
}
message NumberDataPoint {
  repeated KeyValue attributes = 7;
  fixed64 start_time_unix_nano = 2;
  fixed64 time_unix_nano = 3;
  oneof value { double as_double = 4; sfixed64 as_int = 6; }
  uint32 flags = 8;
}
message Gauge { repeated NumberDataPoint data_points = 1; }
message Sum { repeated NumberDataPoint data_points = 1; AggregationTemporality aggregation_temporality = 2; bool is_monotonic = 3; }
message SummaryDataPoint { fixed64 time_unix_nano = 3; }
message Summary { repeated SummaryDataPoint data_points = 1; }
message Metric {
  string name = 1;
  string description = 2;
  string unit = 3;
  oneof data { Gauge gauge = 5; Sum sum = 7; Summary summary = 11; }
}
message ScopeMetrics { InstrumentationScope scope = 1; repeated Metric metrics = 2; string schema_url = 3; }
message ResourceMetrics { Resource resource = 1; repeated ScopeMetrics scope_metrics = 2; string schema_url = 3; }
message ExportMetricsServiceRequest { repeated ResourceMetrics resource_metrics = 1; }
message ExportMetricsPartialSuccess { int64 rejected_data_points = 1; string error_message = 2; }
message ExportMetricsServiceResponse { ExportMetricsPartialSuccess partial_success = 1; }
`;

/** The decoded request, normalised: attributes as plain maps, times in nanoseconds as bigint strings. */
export interface OtlpPoint {
  attributes: Record<string, string>;
  startTimeUnixNano: string;
  timeUnixNano: string;
  value: number;
  flags: number;
}
export interface OtlpMetric {
  name: string;
  description: string;
  unit: string;
  type: 'gauge' | 'sum' | 'summary' | 'none';
  temporality: number;
  monotonic: boolean;
  points: OtlpPoint[];
}
export interface OtlpResource {
  attributes: Record<string, string>;
  scope: { name: string; version: string };
  metrics: OtlpMetric[];
}

let root: protobuf.Root | undefined;
function types(): protobuf.Root {
  root ??= protobuf.parse(OTLP_METRICS_PROTO, { keepCase: true }).root;
  return root;
}

interface RawKeyValue {
  key: string;
  value?: { string_value?: string; stringValue?: string; int_value?: string | number; intValue?: string | number; double_value?: number; doubleValue?: number; bool_value?: boolean; boolValue?: boolean };
}

function attrs(list: RawKeyValue[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list ?? []) {
    const v = kv.value ?? {};
    out[kv.key] = String(v.string_value ?? v.stringValue ?? v.int_value ?? v.intValue ?? v.double_value ?? v.doubleValue ?? v.bool_value ?? v.boolValue ?? '');
  }
  return out;
}

// Both decoders map onto one shape; JSON uses lowerCamelCase names (the OTLP/JSON mapping), protobufjs
// with keepCase the proto's snake_case ones.
type Loose = Record<string, unknown>;
function pick(o: Loose, snake: string, camel: string): unknown {
  return o[snake] ?? o[camel];
}

function normalise(request: Loose): OtlpResource[] {
  const out: OtlpResource[] = [];
  for (const rm of (pick(request, 'resource_metrics', 'resourceMetrics') as Loose[] | undefined) ?? []) {
    const resource = (rm.resource as Loose | undefined) ?? {};
    for (const sm of (pick(rm, 'scope_metrics', 'scopeMetrics') as Loose[] | undefined) ?? []) {
      const scope = (sm.scope as { name?: string; version?: string } | undefined) ?? {};
      const metrics: OtlpMetric[] = [];
      for (const m of (sm.metrics as Loose[] | undefined) ?? []) {
        const gauge = m.gauge as Loose | undefined;
        const sum = m.sum as Loose | undefined;
        const summary = m.summary as Loose | undefined;
        const data = gauge ?? sum ?? summary ?? {};
        const points = ((pick(data, 'data_points', 'dataPoints') as Loose[] | undefined) ?? []).map((p) => ({
          attributes: attrs(p.attributes as RawKeyValue[] | undefined),
          startTimeUnixNano: String(pick(p, 'start_time_unix_nano', 'startTimeUnixNano') ?? '0'),
          timeUnixNano: String(pick(p, 'time_unix_nano', 'timeUnixNano') ?? '0'),
          value: Number(pick(p, 'as_double', 'asDouble') ?? pick(p, 'as_int', 'asInt') ?? NaN),
          flags: Number(p.flags ?? 0),
        }));
        metrics.push({
          name: String(m.name),
          description: String(m.description ?? ''),
          unit: String(m.unit ?? ''),
          type: gauge !== undefined ? 'gauge' : sum !== undefined ? 'sum' : summary !== undefined ? 'summary' : 'none',
          temporality: Number(sum === undefined ? 0 : pick(sum, 'aggregation_temporality', 'aggregationTemporality') ?? 0),
          monotonic: Boolean(sum === undefined ? false : pick(sum, 'is_monotonic', 'isMonotonic')),
          points,
        });
      }
      out.push({ attributes: attrs(resource.attributes as RawKeyValue[] | undefined), scope: { name: scope.name ?? '', version: scope.version ?? '' }, metrics });
    }
  }
  return out;
}

export function decodeOtlpProto(body: Uint8Array): OtlpResource[] {
  const type = types().lookupType('opentelemetry.proto.ExportMetricsServiceRequest');
  const obj = type.toObject(type.decode(body), { longs: String, enums: Number, defaults: false, arrays: true, oneofs: false }) as Loose;
  return normalise(obj);
}

export function decodeOtlpJson(body: Uint8Array): OtlpResource[] {
  return normalise(JSON.parse(Buffer.from(body).toString('utf8')) as Loose);
}

export function encodePartialSuccess(rejected: number, message: string): Buffer {
  const type = types().lookupType('opentelemetry.proto.ExportMetricsServiceResponse');
  return Buffer.from(type.encode(type.fromObject({ partial_success: { rejected_data_points: rejected, error_message: message } })).finish());
}

export interface OtlpCaptured {
  at: number;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** Inflated body. */
  body: Buffer;
  resources: OtlpResource[];
}

export type OtlpAnswer = { status: number; headers?: Record<string, string>; body?: string | Buffer };

export interface OtlpCaptureServer {
  /** Base URL (the exporter's `endpoint`). */
  url: string;
  port: number;
  requests: OtlpCaptured[];
  close(): Promise<void>;
}

/** A capture server answering request `n` (0-based) with `answer(n)`; https when `tls` is given. */
export async function startOtlpCaptureServer(
  answer: (n: number, req: http.IncomingMessage) => OtlpAnswer = () => ({ status: 200 }),
  tls?: https.ServerOptions,
): Promise<OtlpCaptureServer> {
  const requests: OtlpCaptured[] = [];
  let n = 0;
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      const json = String(req.headers['content-type'] ?? '').startsWith('application/json');
      let resources: OtlpResource[] = [];
      try {
        resources = json ? decodeOtlpJson(body) : decodeOtlpProto(body);
      } catch {
        // recorded with no resources; the test sees that
      }
      const a = answer(n++, req);
      requests.push({ at: Date.now(), path: req.url ?? '', headers: req.headers, body, resources });
      res.writeHead(a.status, a.headers);
      res.end(a.body ?? '');
    });
  };
  const server = tls === undefined ? http.createServer(handler) : https.createServer(tls, handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    port,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
