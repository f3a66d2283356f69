/**
 * Final rejections logged once per distinct status: a receiver that answers 404 to everything is one
 * error line per exporter (its shards, a reshard's new shards, its buffers all share one log), not one
 * per request. Later ones of the same status go to debug. Bounded by the statuses an HTTP answer can
 * carry (at most 1000 entries).
 */
import type { Logger } from '../logger.js';
import type { SendError } from './errors.js';

export class RejectionLog {
  private readonly statuses = new Set<number>();

  /** True the first time `status` is seen. */
  first(status: number): boolean {
    if (this.statuses.has(status)) return false;
    this.statuses.add(status);
    return true;
  }

  /** Logs one rejected request of `samples` samples with the answer's body: `first` at error, `again` at debug. */
  log(logger: Logger, e: SendError, samples: number, messages: { first: string; again: string }): void {
    const context = { reason: e.reason, status: e.status, samples, body: e.body };
    if (this.first(e.status ?? 0)) logger.error(context, messages.first);
    else logger.debug(context, messages.again);
  }
}
