// Shared by the otlphttp tests: a capture server that decodes OTLP/HTTP requests with the official
// OTLP protos, and normalises them for assertions. The decoder is the protobufjs code generated from
// open-telemetry/opentelemetry-proto (collector/metrics/v1/metrics_service.proto and what it imports)
// that @opentelemetry/otlp-transformer shipped up to 0.217 (installed as the devDependency
// otlp-transformer-protos; later releases serialize by hand and ship no decoder). No schema is written
// here: a field pprofcol put under a wrong number or wire type would not decode into its name.
// Protobuf bodies go through ExportMetricsServiceRequest.decode; JSON bodies (OTLP/JSON: the proto3
// JSON mapping with lowerCamelCase names) through ExportMetricsServiceRequest.fromObject, so both
// encodings meet the same message type.
import { createRequire } from 'node:module';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** The parts of a pbjs static-module message class the tests use. */
interface GeneratedMessage<T = object> {
  decode(reader: Uint8Array): T;
  encode(message: T): { finish(): Uint8Array };
  fromObject(object: Record<string, unknown>): T;
  toObject(message: T, options: { longs?: StringConstructor; enums?: NumberConstructor; defaults?: boolean; arrays?: boolean; oneofs?: boolean }): Record<string, unknown>;
}

interface OtlpGeneratedRoot {
  opentelemetry: {
    proto: {
      collector: { metrics: { v1: { ExportMetricsServiceRequest: GeneratedMessage; ExportMetricsServiceResponse: GeneratedMessage } } };
      metrics: { v1: { AggregationTemporality: Record<string, number> } };
    };
  };
}

const require = createRequire(import.meta.url);
/** opentelemetry-proto's generated code (see the file comment). */
export const otlpProto = require('otlp-transformer-protos/build/src/generated/root.js') as OtlpGeneratedRoot;
const { ExportMetricsServiceRequest, ExportMetricsServiceResponse } = otlpProto.opentelemetry.proto.collector.metrics.v1;

/** The enum's values as opentelemetry-proto defines them (2 = cumulative). */
export const AGGREGATION_TEMPORALITY = otlpProto.opentelemetry.proto.metrics.v1.AggregationTemporality;

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
  type: 'gauge' | 'sum' | 'summary' | 'histogram' | 'exponentialHistogram' | 'none';
  temporality: number;
  monotonic: boolean;
  points: OtlpPoint[];
}
export interface OtlpResource {
  attributes: Record<string, string>;
  scope: { name: string; version: string };
  metrics: OtlpMetric[];
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

// The generated code's objects use lowerCamelCase names (as OTLP/JSON does); pick() also takes the
// proto's snake_case names, for objects built by hand.
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
        const histogram = m.histogram as Loose | undefined;
        const exponential = m.exponentialHistogram as Loose | undefined;
        const data = gauge ?? sum ?? summary ?? histogram ?? exponential ?? {};
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
          type: gauge !== undefined ? 'gauge' : sum !== undefined ? 'sum' : summary !== undefined ? 'summary' : histogram !== undefined ? 'histogram' : exponential !== undefined ? 'exponentialHistogram' : 'none',
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

/** The generated message as a plain object: lowerCamelCase names, 64-bit integers as decimal strings, enums as numbers. */
function plain(message: object): Loose {
  return ExportMetricsServiceRequest.toObject(message, { longs: String, enums: Number, defaults: false, arrays: true, oneofs: false });
}

/** Decodes an OTLP/HTTP protobuf body with the official ExportMetricsServiceRequest. */
export function decodeOtlpProto(body: Uint8Array): OtlpResource[] {
  return normalise(plain(ExportMetricsServiceRequest.decode(body)));
}

/**
 * Reads an OTLP/JSON body into the official ExportMetricsServiceRequest (fromObject) and normalises it
 * like a protobuf body. Not verify(): it refuses the decimal strings the proto3 JSON mapping requires
 * for 64-bit integers (the timestamps). A field under a name the proto lacks is left out by fromObject,
 * so the assertions on the decoded metrics see it missing.
 */
export function decodeOtlpJson(body: Uint8Array): OtlpResource[] {
  const object = JSON.parse(Buffer.from(body).toString('utf8')) as Record<string, unknown>;
  return normalise(plain(ExportMetricsServiceRequest.fromObject(object)));
}

/** An ExportMetricsServiceResponse carrying a partial success, encoded with the official type. */
export function encodePartialSuccess(rejected: number, message: string): Buffer {
  const response = ExportMetricsServiceResponse.fromObject({ partialSuccess: { rejectedDataPoints: rejected, errorMessage: message } });
  return Buffer.from(ExportMetricsServiceResponse.encode(response).finish());
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
  /** Requests answered so far, in the order they were answered. */
  requests: OtlpCaptured[];
  /**
   * Stalls the receiver: requests that arrive are read whole but not answered (nor recorded) until
   * resume(), as a collector whose pipeline is blocked holds its senders.
   */
  pause(): void;
  /** Answers the held requests in arrival order, and the later ones at once. */
  resume(): void;
  /** Requests waiting for resume(). */
  readonly held: number;
  close(): Promise<void>;
}

/** A capture server answering request `n` (0-based) with `answer(n)`; https when `tls` is given. */
export async function startOtlpCaptureServer(
  answer: (n: number, req: http.IncomingMessage) => OtlpAnswer = () => ({ status: 200 }),
  tls?: https.ServerOptions,
): Promise<OtlpCaptureServer> {
  const requests: OtlpCaptured[] = [];
  let n = 0;
  let paused = false;
  /** The answers paused() holds back, oldest first; at most one per request the client has open. */
  const held: Array<() => void> = [];
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    const reply = (): void => {
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
    };
    req.on('end', () => {
      if (paused) held.push(reply);
      else reply();
    });
  };
  const server = tls === undefined ? http.createServer(handler) : https.createServer(tls, handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    port,
    requests,
    pause: () => {
      paused = true;
    },
    resume: () => {
      paused = false;
      for (const reply of held.splice(0)) reply();
    },
    get held() {
      return held.length;
    },
    close: async () => {
      for (const reply of held.splice(0)) reply();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
