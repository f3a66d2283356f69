/**
 * The prometheusremotewrite receiver: an HTTP listener that takes Prometheus remote write 1.0 (snappy
 * block + protobuf prometheus.WriteRequest) and 2.0 (io.prometheus.write.v2.Request, told by its
 * Content-Type), so that a Prometheus's `remote_write` can point at pprofcol. Each request becomes one
 * MetricBatch, answered once the next stage has taken it; a 2.0 request's answer carries the
 * X-Prometheus-Remote-Write-*-Written headers the 2.0 spec requires.
 *
 * Answers, chosen for what a Prometheus sender does with them (2.42: retries 5xx, drops on 4xx, and drops
 * on 429 unless told otherwise):
 * - 204: taken.
 * - 400 with the reason in the body: a body that does not decode; resending it would not help.
 * - 408: the body did not arrive within body_timeout of the headers (node answers 408 past header_timeout).
 * - 413: body over max_request_body_size (compressed), its decoded size over 8 times that, or a request
 *   whose price (body + decoded bytes + points) alone is over max_inflight_bytes: it can never fit.
 * - 415: a protobuf message other than the two, or an encoding other than snappy.
 * - 503 with Retry-After: the memory budget is held by other requests, max_concurrent_requests are being
 *   handled, or the connection was evicted to make room (max_connections); the sender retries, nothing is lost.
 * - 500: the next stage failed; retryable.
 * A client that closes the connection before its body has arrived gets no answer (there is no one to
 * read it); it counts as rejected with reason `client_aborted`, a client's doing, not the pipeline's.
 *
 * Memory: at most max_inflight_bytes for all requests together (budget.ts), charged as bytes arrive and
 * while decoding, before the memory is taken; plus the listener's sockets (max_connections).
 */
import type http from 'node:http';
import type { Consumer, CreateSettings, Receiver } from '../../core/component.js';
import { errorMessage, QueueFullError, ShuttingDownError } from '../../core/errors.js';
import { BodyError, readRequestBody } from '../../core/http/body.js';
import { GuardedServer } from '../../core/http/server.js';
import { DecodeCost, OverBudgetError, POINT_HEAP_BYTES } from '../../core/remotewrite/cost.js';
import type { Logger } from '../../core/logger.js';
import { metricBatch, type Point } from '../../core/model/metrics.js';
import { seriesText, type RefusedSeries } from '../../core/remotewrite/refusal.js';
import { snappyUncompress } from '../../core/remotewrite/snappy.js';
import { isValidTimestamp } from '../../core/remotewrite/encode.js';
import { snappyPreamble } from '../../core/remotewrite/uncompress.js';
import type { RemoteWriteReceiverConfig } from './config.js';
import { decodeWriteRequest, DecodeError } from '../../core/remotewrite/decode-v1.js';
import { FamilyRegistry } from '../../core/remotewrite/families.js';
import { decodeV2Request } from '../../core/remotewrite/v2decode.js';
import { InflightBudget, type Charge, type Refusal } from './budget.js';
import { receiverMetrics, type ReceiverMetrics } from './metrics.js';

/** Decoded bytes allowed per compressed byte: snappy rarely beats 5x on WriteRequests. */
const MAX_EXPANSION = 8;
/** A snappy block's length preamble is a varint of at most 5 bytes (a 32-bit length). */
const SNAPPY_PREAMBLE_MAX = 5;

/** What became of a request: what was handed on (2.0's headers) and what was refused. */
interface Outcome {
  written: Written | undefined;
  refused: RefusedSeries[];
}

/** How many series a refusal's answer names (design.md: up to 10). */
const REFUSALS_NAMED = 10;

function refusalMessage(refused: RefusedSeries[]): string {
  const samples = refused.reduce((n, r) => n + r.samples, 0);
  const lines = refused.slice(0, REFUSALS_NAMED).map((r) => `${r.series}: ${r.reason} (${r.samples} samples)`);
  const more = refused.length > REFUSALS_NAMED ? `\nand ${refused.length - REFUSALS_NAMED} more series` : '';
  return `refused ${samples} samples of ${refused.length} series, took the rest:\n${lines.join('\n')}${more}`;
}

/** What a 2.0 answer reports (spec 2.0: the receiver MUST say what it wrote; here histograms and exemplars are not). */
interface Written {
  samples: number;
  histograms: number;
  exemplars: number;
}

/** The protobuf message a Content-Type names: `proto=` absent means 1.0, as the 2.0 spec says. */
function protoOf(contentType: string): string {
  const m = /;\s*proto=([^;\s]+)/i.exec(contentType);
  return m === null ? 'prometheus.WriteRequest' : m[1];
}

class HttpAnswer extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export class RemoteWriteReceiver implements Receiver {
  private guard: GuardedServer | undefined;
  private inFlight = 0;
  private readonly budget: InflightBudget;
  /** Between the first 503 for a full budget and the budget falling below half: logged once each way. */
  private budgetFull = false;
  private readonly families: FamilyRegistry;
  private readonly metrics: ReceiverMetrics;
  private readonly logger: Logger;
  private stopping: Promise<void> | undefined;
  private readonly retryAfterSeconds: string;
  /** Between the first 503 for a full exporter queue and the next request taken: logged once each way. */
  private queueFullLogged = false;

  constructor(
    private readonly settings: CreateSettings,
    private readonly config: RemoteWriteReceiverConfig,
    private readonly next: Consumer,
  ) {
    this.metrics = receiverMetrics(settings.telemetry);
    this.families = familyRegistry(config.metadata_cache_size, this.metrics, settings.id);
    this.logger = settings.logger;
    this.retryAfterSeconds = String(Math.max(1, Math.ceil(config.retry_after / 1000)));
    this.budget = new InflightBudget(config.max_inflight_bytes);
    this.metrics.inflightLimit.set({ receiver: settings.id }, config.max_inflight_bytes);
  }

  /** Where it listens (after start), for tests that bind port 0. */
  address(): string | undefined {
    const a = this.guard?.server.address();
    return a === null || a === undefined || typeof a === 'string' ? undefined : `${a.address}:${a.port}`;
  }

  async start(): Promise<void> {
    if (this.guard !== undefined) return;
    const { header_timeout, body_timeout, idle_timeout, max_connections, tls_server_config, basic_auth_users } = this.config;
    const guard = new GuardedServer((req, res) => this.handle(req, res), {
      listener: this.settings.id,
      limits: { header_timeout, body_timeout, idle_timeout, max_connections },
      telemetry: this.settings.telemetry,
      logger: this.logger,
      security: { tls_server_config, basic_auth_users },
      configDir: this.settings.configDir,
    });
    this.guard = guard;
    const colon = this.config.endpoint.lastIndexOf(':');
    const host = this.config.endpoint.slice(0, colon).replace(/^\[|\]$/g, '');
    await guard.listen(host, Number(this.config.endpoint.slice(colon + 1)));
    this.logger.info(
      { endpoint: this.address(), path: this.config.path, tls: tls_server_config !== undefined, basic_auth: basic_auth_users !== undefined },
      'remote-write receiver listening',
    );
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '').split('?')[0];
    if (path !== this.config.path) return this.answer(res, 404, 'not_found', `no such path; remote write goes to ${this.config.path}`, req);
    if (req.method !== 'POST') return this.answer(res, 405, 'bad_request', 'remote write takes POST', req);
    if (this.stopping !== undefined) return this.answer(res, 503, 'busy', 'shutting down', req);
    const charge = this.budget.open();
    this.process(req, charge)
      .then(({ written, refused }) => {
        if (this.queueFullLogged) {
          this.queueFullLogged = false;
          this.logger.info('exporter queues take requests again');
        }
        if (refused.length === 0) return this.answer(res, 204, '', '', req, written);
        // The rest is taken; the 400 names what was not, so the sender drops it and does not resend.
        return this.answer(res, 400, refused[0].reason, refusalMessage(refused), req, written);
      })
      .catch((err: unknown) => {
        if (err instanceof HttpAnswer) return this.answer(res, err.status, err.reason, err.message, req);
        if (err instanceof BodyError) return this.bodyFailed(req, res, err);
        if (err instanceof ShuttingDownError) return this.answer(res, 503, 'busy', 'shutting down; retry later', req);
        if (err instanceof QueueFullError) {
          // Backpressure: an exporter queue stayed full for its block_timeout. 503 + Retry-After makes the
          // sender resend later; what it was told was taken (2xx) is already queued.
          if (!this.queueFullLogged) {
            this.queueFullLogged = true;
            this.logger.warn({ err: errorMessage(err) }, 'an exporter queue is full: answering 503 with Retry-After until it takes requests again');
          }
          return this.answer(res, 503, 'queue_full', `next stage is full: ${errorMessage(err)}; retry later`, req);
        }
        this.logger.error({ err: errorMessage(err) }, 'next stage failed on a remote-write request');
        return this.answer(res, 500, 'downstream', `next stage failed: ${errorMessage(err)}`, req);
      })
      .finally(() => {
        charge.release();
        this.metrics.inflightBytes.set({ receiver: this.settings.id }, this.budget.usedBytes);
        if (this.budgetFull && this.budget.usedBytes < this.budget.capacityBytes / 2) {
          this.budgetFull = false;
          this.logger.info({ inflight_bytes: this.budget.usedBytes }, 'max_inflight_bytes has room again');
        }
      });
  }

  /** Reads, decodes and hands on one request; returns what was written (2.0's headers) and what was refused. */
  private async process(req: http.IncomingMessage, charge: Charge): Promise<Outcome> {
    const proto = protoOf(String(req.headers['content-type'] ?? ''));
    const v2 = proto === 'io.prometheus.write.v2.Request';
    if (!v2 && proto !== 'prometheus.WriteRequest') {
      throw new HttpAnswer(415, 'unsupported', `protobuf message ${proto} is not spoken here; send prometheus.WriteRequest (1.0) or io.prometheus.write.v2.Request (2.0)`);
    }
    const encoding = String(req.headers['content-encoding'] ?? 'snappy').toLowerCase();
    if (encoding !== 'snappy') throw new HttpAnswer(415, 'unsupported', `Content-Encoding ${encoding}: only snappy is accepted`);
    const limit = this.config.max_request_body_size;
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) throw new HttpAnswer(413, 'too_large', `body of ${declared} bytes is over max_request_body_size (${limit})`);
    // The body is charged as it arrives, not by its Content-Length: a client may announce little and
    // send more. The snappy preamble's claimed size is charged as soon as it has arrived, so a body
    // that would decode past the budget is refused before the rest of it is read.
    let head: Buffer | undefined = Buffer.alloc(0);
    const compressed = await readRequestBody(req, {
      limitBytes: limit,
      timeoutMs: this.config.body_timeout,
      signal: this.guard?.evictionSignal(req),
      onChunk: (chunk) => {
        this.charge(charge, chunk.length, 'its body');
        if (head === undefined) return;
        head = Buffer.concat([head, chunk.subarray(0, SNAPPY_PREAMBLE_MAX)]);
        const claimed = snappyPreamble(head)?.length;
        if (claimed === undefined && head.length < SNAPPY_PREAMBLE_MAX) return;
        head = undefined;
        if (claimed !== undefined) this.chargeDecoded(charge, claimed, Number.isFinite(declared) ? declared : 0);
      },
    });
    // The slot is taken only now: a slow body holds budget bytes, never a slot.
    if (this.inFlight >= this.config.max_concurrent_requests) {
      throw new HttpAnswer(503, 'busy', `${this.inFlight} requests in flight (max_concurrent_requests); retry later`);
    }
    this.inFlight++;
    try {
      return await this.decodeAndHandOn(compressed, v2, charge);
    } finally {
      this.inFlight--;
    }
  }

  private async decodeAndHandOn(compressed: Buffer, v2: boolean, charge: Charge): Promise<Outcome> {
    // Charged while the body arrived (chargeDecoded); snappy refuses a body without a preamble or one that
    // decodes to another length.
    let body: Buffer;
    try {
      body = snappyUncompress(compressed);
    } catch (err) {
      throw new HttpAnswer(400, 'bad_request', `body is not snappy (block format): ${errorMessage(err)}`);
    }
    let decoded: { points: Point[]; histogramsSkipped: number; exemplarsSkipped?: number; refused: RefusedSeries[] };
    // Decoding is synchronous: nothing else takes budget meanwhile, so what is free now is what it may use.
    const available = this.budget.availableBytes;
    const cost = new DecodeCost(available);
    const decode = (cost: DecodeCost) => (v2 ? decodeV2Request(body, this.families, cost) : decodeWriteRequest(body, this.families, cost));
    try {
      // Bytes that could hold more samples than the budget allows (an empty Sample is 2 bytes) are priced
      // first by a walk that keeps nothing, so a sample bomb is refused without building any of it.
      if ((body.length / 2) * POINT_HEAP_BYTES > available) {
        const price = new DecodeCost(0);
        try {
          decode(price);
        } catch (err) {
          if (!(err instanceof OverBudgetError)) throw err;
        }
        if (price.used > available) throw new OverBudgetError(price.used, available);
      }
      decoded = decode(cost);
    } catch (err) {
      if (err instanceof OverBudgetError) this.refuse(charge.refusalFor(err.neededBytes) ?? 'busy', err.neededBytes, 'its decoded samples');
      if (err instanceof DecodeError) {
        throw new HttpAnswer(400, 'bad_request', v2 ? `not a remote write 2.0 Request: ${err.message}` : `not a remote write 1.0 WriteRequest: ${err.message}`);
      }
      throw err;
    }
    this.charge(charge, cost.used, 'its decoded samples');
    const receiver = this.settings.id;
    this.metrics.decoded.inc({ receiver, protocol: v2 ? '2.0' : '1.0' });
    if (decoded.histogramsSkipped > 0) this.metrics.histogramsSkipped.inc({ receiver, reason: 'unsupported' }, decoded.histogramsSkipped);
    const refused = decoded.refused;
    const points = this.withinTimeLimits(decoded.points, refused);
    for (const r of refused) this.metrics.samplesRejected.inc({ receiver, reason: r.reason }, r.samples);
    const written: Written | undefined = v2 ? { samples: points.length, histograms: 0, exemplars: 0 } : undefined;
    if (points.length === 0) return { written, refused };
    this.metrics.samples.inc({ receiver }, points.length);
    // Answered only once the next stage has the batch: a slow pipeline keeps requests in flight, and past
    // max_concurrent_requests the sender gets 503 and retries.
    try {
      await this.next.consume(metricBatch(receiver, points));
    } catch (err) {
      // A 400 would tell the sender to drop the kept rest too: it must resend, so 503 (never a 5xx for the refusal itself).
      if (refused.length > 0) {
        this.logger.warn({ err: errorMessage(err) }, 'next stage failed on a partly refused remote-write request; answered 503');
        throw new HttpAnswer(503, 'downstream', `next stage failed: ${errorMessage(err)}`);
      }
      throw err;
    }
    return { written, refused };
  }

  /**
   * The points inside sample_age_limit and sample_future_limit of now; the others are added to
   * `refused` by series. One pass, and no copy when every point is inside (the usual case).
   */
  private withinTimeLimits(points: Point[], refused: RefusedSeries[]): Point[] {
    const now = Date.now();
    const oldest = this.config.sample_age_limit > 0 ? now - this.config.sample_age_limit : Number.NEGATIVE_INFINITY;
    const newest = now + this.config.sample_future_limit;
    let kept: Point[] | undefined;
    let bySeries: Map<string, RefusedSeries> | undefined;
    for (let i = 0; i < points.length; i++) {
      const p = points[i];
      // An int64 past 2^53 reaches us rounded (a JS number): refused rather than passed on altered.
      const ts = p.timestampMs;
      const reason = !isValidTimestamp(ts) ? 'invalid_timestamp' : ts < oldest ? 'too_old' : ts > newest ? 'too_far_in_future' : undefined;
      if (reason === undefined) {
        kept?.push(p);
        continue;
      }
      kept ??= points.slice(0, i);
      bySeries ??= new Map();
      const text = seriesText(p.name, p.labels);
      const key = `${reason} ${text}`;
      const known = bySeries.get(key);
      if (known !== undefined) known.samples++;
      else {
        const entry: RefusedSeries = { series: text, reason, samples: 1 };
        bySeries.set(key, entry);
        refused.push(entry);
      }
    }
    return kept ?? points;
  }

  /**
   * The decoded size a snappy preamble claims: refused past 8 x max_request_body_size, else charged.
   * With the body's declared length it tells a request that can never fit (413) from one that meets
   * a budget others hold (503) before the body has arrived.
   */
  private chargeDecoded(charge: Charge, claimed: number, declaredBody: number): void {
    if (claimed > this.config.max_request_body_size * MAX_EXPANSION) {
      throw new HttpAnswer(413, 'too_large', `body decodes to ${claimed} bytes, over ${MAX_EXPANSION} x max_request_body_size`);
    }
    if (declaredBody + claimed > this.config.max_inflight_bytes) this.refuse('never', declaredBody + claimed, 'its decoded body');
    this.charge(charge, claimed, 'its decoded body');
  }

  /** Takes `bytes` onto the request's charge, or refuses the request (413 or 503). */
  private charge(charge: Charge, bytes: number, what: string): void {
    const refusal = charge.take(bytes);
    if (refusal !== undefined) this.refuse(refusal, charge.heldBytes + bytes, what);
    this.metrics.inflightBytes.set({ receiver: this.settings.id }, this.budget.usedBytes);
  }

  private refuse(refusal: Refusal, neededBytes: number, what: string): never {
    const capacity = this.config.max_inflight_bytes;
    if (refusal === 'never') {
      this.logger.debug({ needed_bytes: neededBytes, max_inflight_bytes: capacity }, 'remote-write request can never fit max_inflight_bytes: 413');
      throw new HttpAnswer(413, 'too_large', `the request needs ~${neededBytes} bytes of memory with ${what}, over max_inflight_bytes (${capacity}); send smaller requests`);
    }
    if (!this.budgetFull) {
      this.budgetFull = true;
      this.logger.warn({ inflight_bytes: this.budget.usedBytes, max_inflight_bytes: capacity }, 'max_inflight_bytes taken: answering 503 until it has room (counted as rejected{reason="over_budget"})');
    }
    throw new HttpAnswer(503, 'over_budget', `max_inflight_bytes (${capacity}) is taken by other requests; retry later`);
  }

  /** A body that did not arrive whole: timed out, too large, evicted, or the client went away. */
  private bodyFailed(req: http.IncomingMessage, res: http.ServerResponse, err: BodyError): void {
    switch (err.failure) {
      case 'client_aborted':
        return this.clientAborted(res, err);
      case 'timeout':
        return this.answer(res, 408, 'body_timeout', err.message, req);
      case 'too_large':
        return this.answer(res, 413, 'too_large', `body is over max_request_body_size (${this.config.max_request_body_size} bytes)`, req);
      case 'evicted':
        return this.answer(res, 503, 'evicted', err.message, req);
    }
  }

  /** Not answered (the connection is gone) and not counted in requests by code; debug, since clients do this. */
  private clientAborted(res: http.ServerResponse, err: BodyError): void {
    this.metrics.rejected.inc({ receiver: this.settings.id, reason: 'client_aborted' });
    this.logger.debug({ err: err.message }, 'remote-write client closed the connection before its body ended');
    res.destroy();
  }

  private answer(res: http.ServerResponse, status: number, reason: string, message: string, req: http.IncomingMessage, written?: Written): void {
    this.metrics.requests.inc({ receiver: this.settings.id, code: String(status) });
    if (status >= 400) this.metrics.rejected.inc({ receiver: this.settings.id, reason });
    const headers: http.OutgoingHttpHeaders = {};
    if (status === 503) headers['retry-after'] = this.retryAfterSeconds;
    if (status >= 400) headers['content-type'] = 'text/plain; charset=utf-8';
    if (written !== undefined) {
      headers['x-prometheus-remote-write-samples-written'] = String(written.samples);
      headers['x-prometheus-remote-write-histograms-written'] = String(written.histograms);
      headers['x-prometheus-remote-write-exemplars-written'] = String(written.exemplars);
    }
    // A body refused before it was read whole: a slow client's (evicted, timed out) loses its connection.
    // Any other is read on and dropped, for at most body_timeout, keeping the connection: closing it
    // with bytes unread makes the kernel answer them with a reset, and the client would see that
    // instead of this answer and resend.
    const unread = !req.complete;
    if (unread && (reason === 'evicted' || reason === 'body_timeout')) headers.connection = 'close';
    res.writeHead(status, headers);
    res.end(status >= 400 ? `${message}\n` : undefined);
    if (unread) {
      const socket = req.socket;
      const timer = setTimeout(() => socket.destroy(), this.config.body_timeout);
      timer.unref();
      req.once('end', () => clearTimeout(timer));
      socket.once('close', () => clearTimeout(timer));
      req.resume();
    }
  }

  async shutdown(): Promise<void> {
    const guard = this.guard;
    if (guard === undefined) return;
    this.stopping ??= guard.close();
    return this.stopping;
  }
}

/** The receiver's family cache, its evictions counted (present at 0 from the start, for rate()). */
function familyRegistry(maxBytes: number, metrics: ReceiverMetrics, receiver: string): FamilyRegistry {
  const evictions = { metadata: metrics.cacheEvictions.labels(receiver, 'metadata'), untyped: metrics.cacheEvictions.labels(receiver, 'untyped') };
  evictions.metadata.inc(0);
  evictions.untyped.inc(0);
  return new FamilyRegistry({ maxBytes, onEvict: (cache) => evictions[cache].inc() });
}
