/**
 * Who may put points into an exporter's memory queue, and who waits (block_timeout): the remote-write
 * exporter's queue_config.block_timeout and the otlphttp exporter's sending_queue.block_timeout, one
 * implementation for both (components do not import each other).
 *
 * A full queue makes consume() wait for room instead of dropping: the caller (a receiver, through the
 * processors) is slowed down to what the remote end takes. Two rules keep that wait fair and ordered:
 * - per source (the receiver id a batch carries), calls enter in the order they came: a call that finds
 *   an earlier call of its source waiting queues behind it, so a series is never overtaken by its own
 *   newer samples;
 * - while another source waits, a source holds at most its fair share of the queue (capacity / sources
 *   holding or waiting): a receiver that floods cannot take every slot freed for one that scrapes.
 *
 * The queue says how it takes points (`admit` of enter()) and how it counts what it drops, and tells
 * this when points leave it (released()); this says who goes, when a wait ends, and what the caller is
 * told then: QueueFullError when block_timeout ran out, ShuttingDownError at shutdown (core/errors.ts).
 *
 * Memory: one counter per source (the receivers of the pipeline) and one ticket per consume() call that
 * waits, which its caller bounds (remote-write requests in flight, scrape loops).
 */

import { QueueFullError, ShuttingDownError } from '../errors.js';

/**
 * The longest timer Node keeps: setTimeout fires one of more than 2^31 - 1 ms after 1 ms instead
 * (TimeoutOverflowWarning), so a block_timeout of 25 days ended every wait at once as queue_full.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** How a wait ended: room (try again), the deadline, or the queue stopping. */
export type TurnResult = 'room' | 'timeout' | 'stopped';

export class Ticket {
  /** Set while the ticket waits for its turn. */
  wake: ((result: TurnResult) => void) | undefined;
  constructor(readonly source: string) {}
}

/** The queue's side of enter(): the wait's budget from the call, the clock, shutdown, and its drop count. */
export interface EnterWait {
  readonly blockTimeoutMs: number;
  now(): number;
  stopping(): boolean;
  /** Points that stayed out, before the caller is told: count them (reason="shutdown" or "queue_full"), log once. */
  dropped(reason: 'shutdown' | 'queue_full', n: number, source: string): void;
}

export class FairAdmission {
  /** Points each source has in the rings (taken by a shard: released). */
  private readonly held = new Map<string, number>();
  /** Per source, the calls waiting for room, oldest first. */
  private readonly queues = new Map<string, Ticket[]>();
  private stopped = false;

  /** `capacity` reads the queue's room in points now (it changes with resharding). */
  constructor(private readonly capacity: () => number) {}

  /**
   * Takes `length` points in through `admit` (it puts in what fits from index `from` on, at most
   * allowance(source) of them, tells took(), and returns the index of the first left out), waiting for
   * room as long as some are out, until `blockTimeoutMs` from the call (on `now`'s clock). Resolves once
   * all are in. Else what is still out is dropped (wait.dropped) and the call fails: with QueueFullError
   * when the time ran out, with ShuttingDownError when the queue is stopping (at once if it already was).
   */
  async enter(source: string, length: number, admit: (from: number) => number, wait: EnterWait): Promise<void> {
    const out = await this.admitWaiting(source, length, admit, wait);
    if (out === undefined) return;
    const dropped = length - out.next;
    wait.dropped(out.why, dropped, source);
    throw out.why === 'shutdown' ? new ShuttingDownError(dropped) : new QueueFullError(dropped, wait.blockTimeoutMs);
  }

  /** enter()'s admission and waits: undefined when all are in, else the first point out and why. */
  private async admitWaiting(source: string, length: number, admit: (from: number) => number, wait: EnterWait): Promise<{ next: number; why: 'shutdown' | 'queue_full' } | undefined> {
    if (wait.stopping()) return { next: 0, why: 'shutdown' };
    let next = this.waiting(source) ? 0 : admit(0);
    if (next >= length) return undefined;
    const deadline = wait.now() + wait.blockTimeoutMs;
    const ticket = this.join(source);
    try {
      while (next < length) {
        const left = deadline - wait.now();
        const result = left > 0 ? await this.turn(ticket, Math.min(left, MAX_TIMER_MS)) : 'timeout';
        if (result === 'stopped' || wait.stopping()) return { next, why: 'shutdown' };
        if (result === 'timeout') {
          if (left <= MAX_TIMER_MS) return { next, why: 'queue_full' };
          // A timer cut to MAX_TIMER_MS is no deadline: wait again for what is left (admit nothing: a
          // ticket that is not its source's head would overtake the calls before it).
          continue;
        }
        next = admit(next);
      }
      return undefined;
    } finally {
      this.leave(ticket);
    }
  }

  /** An earlier call of this source waits: a new one must queue behind it. */
  waiting(source: string): boolean {
    return this.queues.has(source);
  }

  /**
   * How many more points `source` may put in now: unbounded while no other source waits, else what
   * is left of its fair share.
   */
  allowance(source: string): number {
    const others = this.queues.size - (this.queues.has(source) ? 1 : 0);
    if (others === 0) return Infinity;
    let active = this.queues.size;
    for (const s of this.held.keys()) if (!this.queues.has(s)) active++;
    if (!this.held.has(source) && !this.queues.has(source)) active++;
    const share = Math.floor(this.capacity() / active);
    return Math.max(0, share - (this.held.get(source) ?? 0));
  }

  took(source: string, n: number): void {
    if (n > 0) this.held.set(source, (this.held.get(source) ?? 0) + n);
  }

  /** Points left the rings (sent or dropped): the sources holding least get the first try at the room. */
  released(source: string, n: number): void {
    if (n <= 0) return;
    const left = (this.held.get(source) ?? 0) - n;
    if (left > 0) this.held.set(source, left);
    else this.held.delete(source);
    this.wakeHeads();
  }

  /** Joins the queue of its source; the first of a source is its head and is woken on room. */
  join(source: string): Ticket {
    const ticket = new Ticket(source);
    const queue = this.queues.get(source);
    if (queue === undefined) this.queues.set(source, [ticket]);
    else queue.push(ticket);
    return ticket;
  }

  /**
   * Waits until the ticket is its source's head and room has come since, or until `timeoutMs` passes.
   * A head that has just become head is woken at once, to try the room there is.
   */
  turn(ticket: Ticket, timeoutMs: number): Promise<TurnResult> {
    if (this.stopped) return Promise.resolve('stopped');
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish('timeout'), Math.max(0, timeoutMs));
      const finish = (result: TurnResult): void => {
        clearTimeout(timer);
        ticket.wake = undefined;
        resolve(result);
      };
      ticket.wake = finish;
    });
  }

  /** The call is done (all in, or given up): the next call of its source becomes head and tries. */
  leave(ticket: Ticket): void {
    const queue = this.queues.get(ticket.source);
    if (queue === undefined) return;
    const at = queue.indexOf(ticket);
    if (at !== -1) queue.splice(at, 1);
    if (queue.length === 0) {
      this.queues.delete(ticket.source);
      // Others may have been held to their share because this source waited.
      this.wakeHeads();
      return;
    }
    if (at === 0) queue[0].wake?.('room');
  }

  /** Every waiting call ends (shutdown): what it holds is dropped by its caller. */
  stop(): void {
    this.stopped = true;
    for (const queue of this.queues.values()) for (const t of queue) t.wake?.('stopped');
  }

  private wakeHeads(): void {
    if (this.queues.size === 0) return;
    const heads: Ticket[] = [];
    for (const queue of this.queues.values()) if (queue[0].wake !== undefined) heads.push(queue[0]);
    heads.sort((a, b) => (this.held.get(a.source) ?? 0) - (this.held.get(b.source) ?? 0));
    for (const h of heads) h.wake?.('room');
  }
}
