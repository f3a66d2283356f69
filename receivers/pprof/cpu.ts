/**
 * Scheduling of CPU profile windows. Each window holds one connection to its target for its whole
 * length, and Go runs one CPU profile at a time, so: a per-receiver limit on windows in progress
 * (the rest queue, in the order they came due), and per target a phase inside `every`, derived from
 * the target's key like the scrape offset, so many targets spread their windows over the cycle.
 */
import { fnv1a32 } from '../../core/scrape/targets.js';

export class CpuSlots {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly max: number) {}

  /** Runs `job` when a slot is free; resolves with its result. */
  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.running >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await job();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter; `running` stays the same.
      if (next !== undefined) next();
      else this.running--;
    }
  }

  inUse(): number {
    return this.running;
  }
}

/**
 * Per target: when its next window is due, and whether one is queued or running. The schedule runs
 * on a monotonic clock: a wall-clock step back must not stop windows for its length, nor a step
 * forward skip them. The wall clock gives only the phase, once, so it stays the same across restarts.
 */
export class CpuSchedule {
  /** On the monotonic clock. */
  private nextDueMs: number | undefined;
  active = false;

  constructor(
    private readonly targetKey: string,
    private readonly everyMs: number,
  ) {}

  /**
   * True when a window should start now; advances the schedule. The first window waits for the
   * target's phase. `wallMs`: ms since the epoch; `monotonicMs`: the monotonic clock at the same moment.
   */
  due(wallMs: number, monotonicMs: number): boolean {
    if (this.nextDueMs === undefined) {
      const phase = fnv1a32(`cpu|${this.targetKey}`) % this.everyMs;
      let dueWall = wallMs - (wallMs % this.everyMs) + phase;
      if (dueWall < wallMs) dueWall += this.everyMs;
      this.nextDueMs = monotonicMs + (dueWall - wallMs);
    }
    if (this.active || monotonicMs < this.nextDueMs) return false;
    // Skip cycles missed while busy rather than running windows back to back.
    this.nextDueMs += (Math.floor((monotonicMs - this.nextDueMs) / this.everyMs) + 1) * this.everyMs;
    return true;
  }
}
