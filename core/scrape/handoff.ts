/**
 * The hand-off of one scrape's data to the next stage, for every pulling receiver. A stage that fails
 * (an exporter queue that stayed full for block_timeout, a processor that threw) costs that scrape's
 * data, counted where it was dropped; the receiver goes on with its schedule.
 *
 * Logged once per run of failures, and a run ends only after a minute without one: under partial
 * backpressure (one source over its fair share) some scrapes are taken and some are not, and a flag
 * that flipped on each would log two lines a scrape. At 300 targets a full queue would otherwise log
 * 300 lines an interval.
 */
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Target } from './targets.js';

/** A run of failures ends after this long without one (ms). */
const QUIET_MS = 60_000;

export class HandOff {
  private lastFailureAt = -Infinity;
  private failedInRun = 0;

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Runs `consume`; true when the next stage took the data. Never throws. */
  async run(consume: () => Promise<void>, job: string, target: Target): Promise<boolean> {
    try {
      await consume();
    } catch (err) {
      const now = this.now();
      if (now - this.lastFailureAt > QUIET_MS) {
        this.failedInRun = 0;
        this.logger.error({ job, target: target.instance, err: errorMessage(err) }, 'next stage rejected a scrape; logged again after a quiet minute');
      }
      this.failedInRun++;
      this.lastFailureAt = now;
      return false;
    }
    if (this.failedInRun > 0 && this.now() - this.lastFailureAt > QUIET_MS) {
      this.logger.info({ job, target: target.instance, rejected: this.failedInRun }, 'next stage takes scrapes again');
      this.failedInRun = 0;
    }
    return true;
  }
}
