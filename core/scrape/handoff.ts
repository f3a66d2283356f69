/**
 * The hand-off of one scrape's data to the next stage, for every pulling receiver. A stage that fails
 * (an exporter queue that stayed full for block_timeout, a processor that threw) costs that scrape's
 * data, counted where it was dropped; the receiver goes on with its schedule. Logged once per run of
 * failures, not once per scrape: at 300 targets a full queue would otherwise log 300 lines an interval.
 */
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Target } from './targets.js';

export class HandOff {
  private failing = false;

  constructor(private readonly logger: Logger) {}

  /** Runs `consume`; true when the next stage took the data. Never throws. */
  async run(consume: () => Promise<void>, job: string, target: Target): Promise<boolean> {
    try {
      await consume();
    } catch (err) {
      if (!this.failing) {
        this.failing = true;
        this.logger.error({ job, target: target.instance, err: errorMessage(err) }, 'next stage rejected a scrape; logged again once it takes scrapes again and fails anew');
      }
      return false;
    }
    if (this.failing) {
      this.failing = false;
      this.logger.info({ job, target: target.instance }, 'next stage takes scrapes again');
    }
    return true;
  }
}
