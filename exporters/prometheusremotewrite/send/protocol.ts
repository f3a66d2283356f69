/**
 * Protocol negotiation for `protobuf_message: io.prometheus.write.v2.Request`. A Sender in front of
 * the client: the queue and every buffer still cut 1.0 requests; this transcodes each to 2.0 when it
 * is sent and falls back to 1.0 for good (per exporter instance, logged once) when the receiver
 * shows it does not speak 2.0:
 *   - it answers 415 Unsupported Media Type;
 *   - it answers 400 to the first 2.0 request (before any 2.0 request was accepted);
 *   - it answers 2xx without X-Prometheus-Remote-Write-Samples-Written. Prometheus 2.42 does this: it
 *     ignores the Content-Type, parses the 2.0 body as a 1.0 WriteRequest (fields 4 and 5 are unknown
 *     to it, so an empty request) and stores nothing.
 * The switch resends the same request's 1.0 bytes at once: a change of protocol, not a retry of a 4xx.
 *
 * Transcoded once per request: delivery resends the same 1.0 body Buffer on every retry, so its 2.0
 * form is kept beside it (a WeakMap keyed by that Buffer: held exactly as long as the request is, no
 * other bound needed) and a retry posts it without decoding and encoding again.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { errorMessage } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import { snappyCompress, snappyUncompress } from '../../../core/remotewrite/index.js';
import { V2_CONTENT_TYPE, V2_VERSION_HEADER, V2Transcoder } from '../../../core/remotewrite/v2.js';
import type { SendResult } from './client.js';
import type { Sender } from './delivery.js';

/** What the negotiator needs of the client: a send with the protocol's headers, answering with the response headers. */
export interface ProtocolClient {
  send(body: Buffer, signal?: AbortSignal, protocolHeaders?: Record<string, string>): Promise<SendResult>;
}

const V2_HEADERS: Record<string, string> = {
  'content-type': V2_CONTENT_TYPE,
  'x-prometheus-remote-write-version': V2_VERSION_HEADER,
};

export interface WrittenCounts {
  samples: number;
  histograms: number;
  exemplars: number;
}

export type Protocol = 'v2' | 'v1';

export class ProtocolNegotiator implements Sender {
  private current: Protocol = 'v2';
  /** A 2.0 request was accepted with the Written headers: the receiver speaks 2.0, a 400 is a real rejection. */
  private confirmed = false;
  private readonly transcoder = new V2Transcoder();
  /** The 2.0 form of each 1.0 body still being delivered (see the file comment); `empty`: metadata only. */
  private readonly transcoded = new WeakMap<Buffer, { body: Buffer; samples: number } | 'empty'>();
  private partialLogged = false;
  /** The Written headers of the last accepted 2.0 request (tests, debugging). */
  lastWritten: WrittenCounts | undefined;

  constructor(
    private readonly client: ProtocolClient,
    private readonly logger: Logger,
  ) {}

  get protocol(): Protocol {
    return this.current;
  }

  async send(body: Buffer, signal?: AbortSignal): Promise<SendResult> {
    if (this.current === 'v1') return this.client.send(body, signal);
    let known = this.transcoded.get(body);
    if (known === undefined) {
      try {
        const t = this.transcoder.transcode(snappyUncompress(body));
        known = t.series === 0 ? 'empty' : { body: snappyCompress(t.body), samples: t.samples };
      } catch (err) {
        this.logger.error({ err: errorMessage(err) }, 'cannot transcode a request to remote write 2.0; sending it as 1.0');
        return this.client.send(body, signal);
      }
      this.transcoded.set(body, known);
    }
    // Metadata-only: 2.0 carries metadata with each series' samples, so there is nothing to send.
    if (known === 'empty') return { ok: true };
    const { body: v2, samples } = known;
    const result = await this.client.send(v2, signal, V2_HEADERS);
    if (result.ok) {
      const written = readWritten(result.headers);
      if (written === undefined) {
        this.fallBack('it answered 2xx without X-Prometheus-Remote-Write-Samples-Written (a 1.0 receiver that took the 2.0 body for an empty request)');
        return this.client.send(body, signal);
      }
      this.confirmed = true;
      this.lastWritten = written;
      if (written.samples < samples && !this.partialLogged) {
        this.partialLogged = true;
        this.logger.warn({ sent: samples, written: written.samples }, 'the remote-write 2.0 receiver wrote fewer samples than sent; the rest is counted dropped{reason="not_written"} (logged once)');
      }
      // Delivery counts what the receiver wrote as sent, not what was posted.
      return { ...result, samplesWritten: Math.max(0, Math.min(samples, written.samples)) };
    }
    const status = result.error.status;
    if (status === 415) {
      this.fallBack('it answered 415 Unsupported Media Type');
      return this.client.send(body, signal);
    }
    if (status === 400 && !this.confirmed) {
      this.fallBack(`it answered 400 to the first 2.0 request${result.error.body ? `: ${result.error.body}` : ''}`);
      return this.client.send(body, signal);
    }
    return result;
  }

  private fallBack(why: string): void {
    this.current = 'v1';
    this.logger.warn({ reason: why }, 'the remote-write receiver does not speak remote write 2.0; falling back to 1.0 for this exporter (the same samples are resent as 1.0)');
  }
}

/** The X-Prometheus-Remote-Write-*-Written headers, or undefined without the samples one. */
export function readWritten(headers: IncomingHttpHeaders | undefined): WrittenCounts | undefined {
  if (headers === undefined) return undefined;
  const read = (name: string): number | undefined => {
    const v = headers[name];
    const text = Array.isArray(v) ? v[0] : v;
    if (text === undefined || text.trim() === '') return undefined;
    const n = Number(text);
    return Number.isFinite(n) ? n : undefined;
  };
  const samples = read('x-prometheus-remote-write-samples-written');
  if (samples === undefined) return undefined;
  return {
    samples,
    histograms: read('x-prometheus-remote-write-histograms-written') ?? 0,
    exemplars: read('x-prometheus-remote-write-exemplars-written') ?? 0,
  };
}
