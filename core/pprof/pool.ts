/**
 * A bounded pool of decode workers (node:worker_threads) for the profiles too large to decode on the
 * main thread: at most `workers` decodes run at once, each on its own thread, and at most `queueLimit`
 * wait; past that a profile is refused at once (reason `queue_full`), never queued without bound. So
 * one target's huge profile costs a worker, not the main thread's timers: other targets' scrapes and the
 * exporter keep their schedule. Workers start on first use (the default profiles never need one: no
 * protobuf, no large text), exit after DECODE_WORKER_IDLE_MS without work, and start again when work
 * comes; a worker that dies fails its job and is replaced on the next one.
 *
 * Memory: each worker holds at most one decode, which is bounded by its input (core/pprof/decode.ts: the
 * inflated bytes + maxWorkingBytes + the name cache), so the pool holds at most `workers` such bounds
 * plus the queued bodies (each <= body_size_limit). An idle worker still costs its isolate (~11 MiB of
 * RSS after one small decode, measured; more while its heap keeps what a large decode grew it to), so
 * one a burst started does not stay for the life of the daemon.
 */
import { Worker } from 'node:worker_threads';
import { PprofcolError } from '../errors.js';
import type { FunctionProfile } from '../model/profiles.js';
import type { DecodeReply, DecodeRequest } from './pool-protocol.js';
import { ProfileDecodeError, type GoroutineStates } from './text.js';

/** Refused because every worker is busy and the queue is full. */
export class DecodeQueueFullError extends PprofcolError {
  constructor(limit: number) {
    super('ERR_DECODE_QUEUE_FULL', `decode queue full (${limit} profiles waiting for a worker)`);
    this.name = 'DecodeQueueFullError';
  }
}

export interface DecodePoolOptions {
  /** Threads, at least 1. */
  workers: number;
  /** Profiles waiting for a thread, at most; 0 = none wait. */
  queueLimit: number;
  /** After every change: profiles waiting, and workers decoding. */
  onChange?: (queued: number, busy: number) => void;
  /** A worker with nothing to do this long (ms) exits; default DECODE_WORKER_IDLE_MS. */
  idleExitMs?: number;
}

/**
 * How long an idle worker waits for work before it exits: longer than a scrape interval (15 s by
 * default, 1 min for heap profiles), so a target whose profiles need a worker every scrape keeps it,
 * and a worker costs its start (~30 ms of a core) at most once a minute.
 */
export const DECODE_WORKER_IDLE_MS = 60_000;

type Job = { req: DecodeRequest; transfer: ArrayBuffer[]; resolve: (r: DecodeReply & { ok: true }) => void; reject: (err: Error) => void };

interface Slot {
  worker: Worker;
  job: Job | undefined;
  /** Set while idle: ends the worker after idleExitMs. */
  idleTimer: NodeJS.Timeout | undefined;
}

const WORKER_URL = new URL('./decode-worker.js', import.meta.url);

export class DecodePool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;
  private spawned = 0;

  constructor(private readonly options: DecodePoolOptions) {
    if (!(Number.isInteger(options.workers) && options.workers >= 1)) throw new PprofcolError('ERR_INVALID_OPTION', `workers must be >= 1, got ${options.workers}`);
  }

  /**
   * A gzipped or raw profile.proto decoded to the shape the derivations read. The bytes move to the
   * worker (the caller's view is emptied): pass bytes no one else reads.
   */
  profile(data: Uint8Array, maxInflatedBytes: number, skipPrefixes: readonly string[]): Promise<FunctionProfile> {
    return this.functions({ id: 0, kind: 'profile', data, maxInflatedBytes, skipPrefixes });
  }

  /**
   * goroutine?debug=1 stacks: goroutines by first frame outside skipPrefixes. The bytes are copied, not
   * moved: the receiver reads the same body for the goroutine count too.
   */
  goroutineStacks(data: Uint8Array, skipPrefixes: readonly string[]): Promise<FunctionProfile> {
    return this.functions({ id: 0, kind: 'goroutine_stacks', data: Uint8Array.prototype.slice.call(data), skipPrefixes });
  }

  private async functions(req: DecodeRequest): Promise<FunctionProfile> {
    const reply = await this.run(req);
    if (reply.kind !== 'functions') throw new Error('decode worker answered another kind');
    const byFunction = new Map<string, number[]>();
    const n = reply.columns.length;
    for (let i = 0; i < reply.names.length; i++) byFunction.set(reply.names[i], Array.from(reply.values.subarray(i * n, (i + 1) * n)));
    return { columns: reply.columns, units: reply.units, totals: reply.totals, byFunction, durationSeconds: reply.durationSeconds };
  }

  /** goroutine?debug=2 states; the bytes move to the worker, as with profile(). */
  async goroutineStates(data: Uint8Array): Promise<GoroutineStates> {
    const reply = await this.run({ id: 0, kind: 'goroutine_states', data });
    if (reply.kind !== 'goroutine_states') throw new Error('decode worker answered another kind');
    return { total: reply.total, byState: new Map(reply.byState), waitMaxSeconds: reply.waitMaxSeconds };
  }

  /** Profiles waiting for a worker. */
  get queued(): number {
    return this.queue.length;
  }

  private run(req: DecodeRequest): Promise<DecodeReply & { ok: true }> {
    if (this.closed) return Promise.reject(new PprofcolError('ERR_DECODE_POOL_CLOSED', 'decode pool is closed'));
    req.id = this.nextId++;
    // The bytes move to the worker without a copy when they own their ArrayBuffer (gunzip's and undici's
    // large bodies do); a view into a shared pool slab is copied first, since transferring it would
    // detach every other view of that slab.
    const data = req.data;
    const owns = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer;
    if (!owns) req.data = Uint8Array.prototype.slice.call(data);
    const transfer = [req.data.buffer as ArrayBuffer];
    return new Promise((resolve, reject) => {
      const job: Job = { req, transfer, resolve, reject };
      const slot = this.idleSlot();
      if (slot !== undefined) this.dispatch(slot, job);
      else if (this.queue.length < this.options.queueLimit) this.queue.push(job);
      else reject(new DecodeQueueFullError(this.options.queueLimit));
      this.changed();
    });
  }

  private idleSlot(): Slot | undefined {
    const idle = this.slots.find((s) => s.job === undefined);
    if (idle !== undefined) return idle;
    if (this.slots.length < this.options.workers) return this.spawn();
    return undefined;
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_URL);
    this.spawned++;
    // An idle worker must not keep the process alive (the daemon exits through its own shutdown).
    worker.unref();
    const slot: Slot = { worker, job: undefined, idleTimer: undefined };
    worker.on('message', (reply: DecodeReply) => this.finished(slot, reply));
    const fail = (err: Error) => {
      const job = slot.job;
      slot.job = undefined;
      const at = this.slots.indexOf(slot);
      if (at !== -1) this.slots.splice(at, 1);
      job?.reject(new ProfileDecodeError(`decode worker failed: ${err.message}`, { cause: err }));
      this.next();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (this.slots.includes(slot)) fail(new Error(`exited with code ${code}`));
    });
    this.slots.push(slot);
    return slot;
  }

  private dispatch(slot: Slot, job: Job): void {
    clearTimeout(slot.idleTimer);
    slot.idleTimer = undefined;
    slot.job = job;
    slot.worker.ref(); // busy: the process waits for the answer
    slot.worker.postMessage(job.req, job.transfer);
  }

  private finished(slot: Slot, reply: DecodeReply): void {
    const job = slot.job;
    slot.job = undefined;
    slot.worker.unref();
    if (job !== undefined && job.req.id === reply.id) {
      if (reply.ok) job.resolve(reply);
      else job.reject(reply.decode ? new ProfileDecodeError(reply.message, { tooLarge: reply.tooLarge }) : new Error(reply.message));
    }
    this.next();
  }

  private next(): void {
    while (this.queue.length > 0 && !this.closed) {
      const slot = this.idleSlot();
      if (slot === undefined) break;
      this.dispatch(slot, this.queue.shift()!);
    }
    for (const s of this.slots) if (s.job === undefined && s.idleTimer === undefined && !this.closed) this.armIdle(s);
    this.changed();
  }

  /** Ends an idle worker after idleExitMs; dispatch() clears the timer when work comes first. */
  private armIdle(slot: Slot): void {
    slot.idleTimer = setTimeout(() => {
      slot.idleTimer = undefined;
      if (slot.job !== undefined) return;
      const at = this.slots.indexOf(slot);
      if (at === -1) return;
      this.slots.splice(at, 1); // out of the pool first: its exit is then no failure
      void slot.worker.terminate();
    }, this.options.idleExitMs ?? DECODE_WORKER_IDLE_MS);
    slot.idleTimer.unref();
  }

  /** Workers running now (busy or idle), and started since the pool was made (for tests). */
  get workers(): { running: number; started: number } {
    return { running: this.slots.length, started: this.spawned };
  }

  private changed(): void {
    this.options.onChange?.(this.queue.length, this.slots.filter((s) => s.job !== undefined).length);
  }

  /** Fails what waits and stops the workers; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new PprofcolError('ERR_DECODE_POOL_CLOSED', 'decode pool is closed'));
    const slots = this.slots.splice(0);
    for (const s of slots) clearTimeout(s.idleTimer);
    for (const s of slots) s.job?.reject(new PprofcolError('ERR_DECODE_POOL_CLOSED', 'decode pool is closed'));
    await Promise.all(slots.map((s) => s.worker.terminate()));
    this.changed();
  }
}
