/**
 * Remote write 1.0 requests taken apart and put together again at the wire level, without decoding
 * labels or values: what isolate_rejected (split a rejected request in halves) and sample_age_limit
 * (leave old samples out) need on a request that exists only as bytes (a durable buffer's record).
 * Labels and samples are copied as the bytes they were, so a stale marker keeps its NaN bits.
 *
 *   WriteRequest { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
 *   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
 *   Sample       { double value = 1; int64 timestamp = 2; }
 */
import { Reader } from '../../../core/remotewrite/reader.js';

export interface WireSample {
  timestampMs: number;
  /** The whole Sample message (without its tag and length). */
  bytes: Buffer;
}

export interface WireSeries {
  /** Every field of the TimeSeries except samples (the labels), as written. */
  head: Buffer[];
  samples: WireSample[];
}

export interface WireRequest {
  series: WireSeries[];
  /** Each MetricMetadata message (without tag and length). */
  metadata: Buffer[];
}


/** Splits a snappy-decoded WriteRequest into series (labels kept as bytes) and samples. */
export function parseRequest(raw: Buffer): WireRequest {
  const r = new Reader(raw, 0, raw.length);
  const series: WireSeries[] = [];
  const metadata: Buffer[] = [];
  while (r.pos < r.end) {
    const tag = r.tag();
    const field = Math.floor(tag / 8);
    if ((tag & 7) !== 2) {
      r.skip(tag & 7);
      continue;
    }
    const len = r.length();
    const start = r.pos;
    const end = start + len;
    if (field === 1) series.push(parseSeries(raw, start, end));
    else if (field === 3) metadata.push(raw.subarray(start, end));
    r.pos = end;
  }
  return { series, metadata };
}

function parseSeries(raw: Buffer, start: number, end: number): WireSeries {
  const r = new Reader(raw, start, end);
  const head: Buffer[] = [];
  const samples: WireSample[] = [];
  while (r.pos < end) {
    const fieldStart = r.pos;
    const tag = r.tag();
    if (tag !== 0x12) {
      r.skip(tag & 7);
      head.push(raw.subarray(fieldStart, r.pos));
      continue;
    }
    // length() refuses a Sample that claims more bytes than its series holds.
    const len = r.length();
    const s = r.pos;
    const e = s + len;
    samples.push({ timestampMs: sampleTimestamp(raw, s, e), bytes: raw.subarray(s, e) });
    r.pos = e;
  }
  return { head, samples };
}

function sampleTimestamp(raw: Buffer, start: number, end: number): number {
  const r = new Reader(raw, start, end);
  let ts = 0;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x10) ts = r.int64();
    else r.skip(tag & 7);
  }
  return ts;
}

/** Number of samples in a request. */
export function countSamples(req: WireRequest): number {
  let n = 0;
  for (const s of req.series) n += s.samples.length;
  return n;
}

function putVarint(out: number[], value: number): void {
  let v = value;
  while (v > 0x7f) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

/** Writes a WriteRequest back to bytes. Series without samples are left out. */
export function buildRequest(req: WireRequest): Buffer {
  const parts: Buffer[] = [];
  const prefix = (tag: number, len: number): Buffer => {
    const b: number[] = [tag];
    putVarint(b, len);
    return Buffer.from(b);
  };
  for (const s of req.series) {
    if (s.samples.length === 0) continue;
    let len = 0;
    for (const h of s.head) len += h.length;
    const sampleParts: Buffer[] = [];
    for (const x of s.samples) {
      const p = prefix(0x12, x.bytes.length);
      sampleParts.push(p, x.bytes);
      len += p.length + x.bytes.length;
    }
    parts.push(prefix(0x0a, len), ...s.head, ...sampleParts);
  }
  for (const m of req.metadata) parts.push(prefix(0x1a, m.length), m);
  return Buffer.concat(parts);
}

/**
 * Halves a request by samples, keeping each series' samples in order and the earlier ones in the
 * first half (so sending first then second keeps every series in timestamp order). Metadata goes
 * with the first half. Undefined when the request holds fewer than two samples.
 */
export function splitRequest(req: WireRequest): [WireRequest, WireRequest] | undefined {
  const total = countSamples(req);
  if (total < 2) return undefined;
  const half = Math.floor(total / 2);
  const first: WireSeries[] = [];
  const second: WireSeries[] = [];
  let taken = 0;
  for (const s of req.series) {
    if (taken >= half) {
      second.push(s);
      continue;
    }
    const room = half - taken;
    if (s.samples.length <= room) {
      first.push(s);
      taken += s.samples.length;
    } else {
      first.push({ head: s.head, samples: s.samples.slice(0, room) });
      second.push({ head: s.head, samples: s.samples.slice(room) });
      taken += room;
    }
  }
  return [
    { series: first, metadata: req.metadata },
    { series: second, metadata: [] },
  ];
}

/**
 * The request without samples older than `minTimestampMs`; returns how many were left out and the oldest
 * timestamp kept (Infinity when none is).
 */
export function dropOlderThan(req: WireRequest, minTimestampMs: number): { request: WireRequest; dropped: number; oldestMs: number } {
  let dropped = 0;
  let oldestMs = Number.POSITIVE_INFINITY;
  const series: WireSeries[] = [];
  for (const s of req.series) {
    const kept = s.samples.filter((x) => x.timestampMs >= minTimestampMs);
    dropped += s.samples.length - kept.length;
    for (const x of kept) if (x.timestampMs < oldestMs) oldestMs = x.timestampMs;
    if (kept.length > 0) series.push({ head: s.head, samples: kept });
  }
  return { request: { series, metadata: req.metadata }, dropped, oldestMs };
}
