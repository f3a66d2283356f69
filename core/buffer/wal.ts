/**
 * An embedded write-ahead log of opaque records, split in shards, each shard read in the order it was
 * written. Built for the remote-write exporter's disk buffer (one record = one cut request), but it
 * knows nothing of remote write: a record is bytes plus a `count` (samples) used for accounting.
 *
 * Layout (everything under `directory`):
 *   gen-000001/meta.json           {"version":1,"shards":4}: the shard count this generation was written with
 *   gen-000001/shard-000/ack       16 bytes: segment sequence (f64) and offset (f64) of the first record
 *                                  not yet delivered
 *   gen-000001/shard-000/0000000000000042.seg   segment files; sequence numbers are global to the log,
 *                                  so "the oldest segment" is well defined across shards
 * A restart with another shard count opens a new generation for new records; the older ones are read
 * (drained) first, so the order per series holds across the change (see `generations`).
 *
 * Record framing: u32 LE length of the body, u32 LE CRC-32 (IEEE) of the body, body = u32 LE count
 * followed by the payload. On open every segment is read and checked; the first record that is short
 * (a write torn by kill -9) or fails its CRC ends the segment, which is truncated there; records of a
 * torn write were never acknowledged to the caller (append had not resolved), so nothing accepted is lost.
 *
 * Durability: append() resolves after write(2) of all its records, and with `fsync: true` after
 * fdatasync(2) too. Without fsync the records survive the process being killed (they are in the page
 * cache) but not a power loss. Acknowledgements are written (not synced) after each delivery: after a
 * crash at most the records in flight are read again (at-least-once).
 *
 * Bounded: when the segments hold more than `maxBytes`, the oldest segment is deleted and the counts of
 * its undelivered records are reported through `onDrop` (the caller counts them as lost).
 */
import { mkdir, open, readdir, readFile, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { PprofcolError } from '../errors.js';

const HEADER_BYTES = 12;
const LOG_VERSION = 1;
/** Bounds of a segment's size: small enough that dropping one loses little, large enough to be few files. */
const MIN_SEGMENT_BYTES = 64 * 1024;
const MAX_SEGMENT_BYTES = 64 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------------
// CRC-32 (IEEE): node:zlib has it from Node 20.15; a table-driven one for older 20.x.

let crcTable: Uint32Array | undefined;
function crc32Table(data: Uint8Array): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
const zlibCrc = (zlib as unknown as { crc32?: (data: Uint8Array) => number }).crc32;
export const crc32: (data: Uint8Array) => number = typeof zlibCrc === 'function' ? (d) => zlibCrc(d) >>> 0 : crc32Table;

// ---------------------------------------------------------------------------------------------------

export class WalError extends PprofcolError {
  constructor(message: string, cause?: unknown) {
    super('ERR_WAL', message, { cause });
    this.name = 'WalError';
  }
}

/**
 * A read that returned fewer bytes than a record's framing says are there: the file was truncated
 * under the log (by something else). Thrown rather than read as a record; the sender retries with
 * backoff (and logs once), since the bytes it would frame are not the ones written.
 */
export class WalShortReadError extends PprofcolError {
  constructor(file: string, offset: number, wanted: number, got: number) {
    super('ERR_WAL_SHORT_READ', `${file}: read ${got} of ${wanted} bytes at offset ${offset}: the segment is shorter than its records`, { retryable: true });
    this.name = 'WalShortReadError';
  }
}

/** Fills `buf` from `position`; a read that ends early (end of file) is a WalShortReadError. */
async function readFully(handle: FileHandle, buf: Buffer, position: number, file: string): Promise<void> {
  let got = 0;
  while (got < buf.length) {
    const { bytesRead } = await handle.read(buf, got, buf.length - got, position + got);
    if (bytesRead === 0) throw new WalShortReadError(file, position, buf.length, got);
    got += bytesRead;
  }
}

export interface WalOptions {
  directory: string;
  /** Shards of the generation new records go to. */
  shards: number;
  maxBytes: number;
  fsync: boolean;
  /** Overrides the segment size derived from maxBytes (tests). */
  segmentBytes?: number;
  /** Undelivered records lost: `reason` is buffer_full (oldest segment deleted) or corrupt. */
  onDrop?: (count: number, reason: 'buffer_full' | 'corrupt') => void;
  /**
   * Eviction failed (a file-system error deleting or rotating a segment). Called on every failure;
   * the log stays over maxBytes until a later append retries the eviction.
   */
  onEvictError?: (err: unknown) => void;
}

export interface WalRecord {
  count: number;
  payload: Buffer;
  /** Where the record ends: the position an ack moves to. */
  readonly segment: number;
  readonly next: number;
}

interface Segment {
  seq: number;
  file: string;
  size: number;
  /** Offset and count of each record, for accounting when the segment is dropped. */
  offsets: number[];
  counts: number[];
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/** One shard of one generation: its segments, its write end and its read position. */
export class ShardLog {
  readonly segments: Segment[] = [];
  private writer: FileHandle | undefined;
  private reader: { seq: number; handle: FileHandle } | undefined;
  private ackHandle: FileHandle | undefined;
  /** Read position: the first record not yet delivered. */
  private pos = { seq: 0, offset: 0 };
  private chain: Promise<void> = Promise.resolve();
  private waiter: (() => void) | undefined;
  /** Count of records from the read position on. */
  undelivered = 0;
  bytes = 0;

  constructor(
    private readonly wal: WriteAheadLog,
    readonly dir: string,
    readonly index: number,
  ) {}

  async load(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const names = (await readdir(this.dir)).filter((n) => n.endsWith('.seg')).sort();
    for (const name of names) {
      const seg = await this.scan(path.join(this.dir, name), Number(name.slice(0, -4)));
      this.segments.push(seg);
      this.bytes += seg.size;
    }
    let ack = { seq: 0, offset: 0 };
    try {
      const b = await readFile(path.join(this.dir, 'ack'));
      if (b.length >= 16) ack = { seq: b.readDoubleLE(0), offset: b.readDoubleLE(8) };
    } catch {
      // no ack yet: everything is undelivered
    }
    this.pos = ack;
    this.normalizePosition();
    this.undelivered = this.countFrom(this.pos);
    this.ackHandle = await open(path.join(this.dir, 'ack'), 'a+').then(async (h) => {
      await h.close();
      return open(path.join(this.dir, 'ack'), 'r+');
    });
  }

  /** Reads a segment, checks every record and truncates it after the last good one. */
  private async scan(file: string, seq: number): Promise<Segment> {
    const data = await readFile(file);
    const seg: Segment = { seq, file, size: 0, offsets: [], counts: [] };
    let at = 0;
    let bad = false;
    while (at + HEADER_BYTES <= data.length) {
      const len = data.readUInt32LE(at);
      const end = at + 8 + len;
      if (len < 4 || end > data.length) {
        bad = true;
        break;
      }
      if (crc32(data.subarray(at + 8, end)) !== data.readUInt32LE(at + 4)) {
        bad = true;
        break;
      }
      seg.offsets.push(at);
      seg.counts.push(data.readUInt32LE(at + 8));
      at = end;
    }
    if (at < data.length) {
      // A torn tail (never acknowledged) or corruption: keep what checks out.
      if (bad && at + HEADER_BYTES <= data.length) this.wal.reportCorrupt(file, at);
      const h = await open(file, 'r+');
      await h.truncate(at);
      await h.close();
    }
    seg.size = at;
    return seg;
  }

  /** Moves the read position onto an existing record boundary (or the end). */
  private normalizePosition(): void {
    const segs = this.segments;
    if (segs.length === 0) {
      this.pos = { seq: 0, offset: 0 };
      return;
    }
    const i = segs.findIndex((s) => s.seq >= this.pos.seq);
    if (i < 0) {
      const last = segs[segs.length - 1];
      this.pos = { seq: last.seq, offset: last.size };
      return;
    }
    if (segs[i].seq !== this.pos.seq) this.pos = { seq: segs[i].seq, offset: 0 };
    else if (this.pos.offset > segs[i].size) this.pos.offset = segs[i].size;
  }

  private countFrom(pos: { seq: number; offset: number }): number {
    let n = 0;
    for (const s of this.segments) {
      if (s.seq < pos.seq) continue;
      for (let i = 0; i < s.offsets.length; i++) if (s.seq > pos.seq || s.offsets[i] >= pos.offset) n += s.counts[i];
    }
    return n;
  }

  /** Appends records in order; resolves once written (and synced with fsync). Serialized per shard. */
  append(records: ReadonlyArray<{ count: number; payload: Buffer }>): Promise<void> {
    const run = this.chain.then(() => this.write(records));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async write(records: ReadonlyArray<{ count: number; payload: Buffer }>): Promise<void> {
    let total = 0;
    for (const r of records) total += HEADER_BYTES + r.payload.length;
    const buf = Buffer.allocUnsafe(total);
    let at = 0;
    const offsets: number[] = [];
    for (const r of records) {
      buf.writeUInt32LE(4 + r.payload.length, at);
      buf.writeUInt32LE(r.count, at + 8);
      r.payload.copy(buf, at + HEADER_BYTES);
      buf.writeUInt32LE(crc32(buf.subarray(at + 8, at + HEADER_BYTES + r.payload.length)), at + 4);
      offsets.push(at);
      at += HEADER_BYTES + r.payload.length;
    }
    let seg = this.segments[this.segments.length - 1];
    if (seg === undefined || this.writer === undefined || seg.size >= this.wal.segmentBytes) {
      seg = await this.rotate();
    }
    const writer = this.writer as FileHandle;
    let written = 0;
    while (written < total) {
      const { bytesWritten } = await writer.write(buf, written, total - written, seg.size + written);
      written += bytesWritten;
    }
    if (this.wal.options.fsync) await writer.datasync();
    for (let i = 0; i < records.length; i++) {
      seg.offsets.push(seg.size + offsets[i]);
      seg.counts.push(records[i].count);
      this.undelivered += records[i].count;
    }
    seg.size += total;
    this.bytes += total;
    this.wal.grew(total);
    this.waiter?.();
  }

  /** Starts a new segment for writing. A segment left from a previous run is never appended to. */
  private async rotate(): Promise<Segment> {
    await this.writer?.close();
    const seq = this.wal.nextSeq();
    const file = path.join(this.dir, `${pad(seq, 16)}.seg`);
    this.writer = await open(file, 'w');
    if (this.wal.options.fsync) await this.wal.syncDir(this.dir);
    const seg: Segment = { seq, file, size: 0, offsets: [], counts: [] };
    this.segments.push(seg);
    if (this.segments.length === 1) this.pos = { seq, offset: 0 };
    return seg;
  }

  /** True when the segment is the one being written. */
  isWriting(seg: Segment): boolean {
    return this.writer !== undefined && this.segments[this.segments.length - 1] === seg;
  }

  /** The next undelivered record, or undefined when the shard has none now. */
  async next(): Promise<WalRecord | undefined> {
    for (;;) {
      const i = this.segments.findIndex((s) => s.seq === this.pos.seq);
      if (i < 0) {
        if (this.segments.length === 0) return undefined;
        this.pos = { seq: this.segments[0].seq, offset: 0 };
        continue;
      }
      const seg = this.segments[i];
      if (this.pos.offset >= seg.size) {
        if (i + 1 < this.segments.length) {
          this.pos = { seq: this.segments[i + 1].seq, offset: 0 };
          await this.release(seg);
          continue;
        }
        return undefined;
      }
      const handle = await this.readHandle(seg);
      const head = Buffer.allocUnsafe(8);
      await readFully(handle, head, this.pos.offset, seg.file);
      const len = head.readUInt32LE(0);
      // Bounded by its segment before anything is allocated: a length damaged on disk (up to 4 GiB)
      // would otherwise allocate that much. A record was checked on open or written by this run, so
      // its body lies within the segment's size; one that does not is damaged.
      const fits = len >= 4 && this.pos.offset + 8 + len <= seg.size;
      const body = fits ? Buffer.allocUnsafe(len) : undefined;
      if (body !== undefined) await readFully(handle, body, this.pos.offset + 8, seg.file);
      if (body === undefined || crc32(body) !== head.readUInt32LE(4)) {
        // Damaged after it was written (the disk): the rest of this segment cannot be framed.
        const lost = this.countFrom(this.pos) - this.countAfter(seg);
        this.wal.reportCorrupt(seg.file, this.pos.offset);
        this.wal.options.onDrop?.(lost, 'corrupt');
        this.undelivered -= lost;
        this.pos = { seq: seg.seq, offset: seg.size };
        continue;
      }
      return { count: body.readUInt32LE(0), payload: body.subarray(4), segment: seg.seq, next: this.pos.offset + 8 + len };
    }
  }

  private countAfter(seg: Segment): number {
    return this.countFrom({ seq: seg.seq + 0.5, offset: 0 });
  }

  private async readHandle(seg: Segment): Promise<FileHandle> {
    if (this.reader?.seq === seg.seq) return this.reader.handle;
    await this.reader?.handle.close();
    const handle = await open(seg.file, 'r');
    this.reader = { seq: seg.seq, handle };
    return handle;
  }

  /** Marks a record returned by next() delivered (or given up for good). */
  async ack(record: WalRecord): Promise<void> {
    if (record.segment === this.pos.seq && record.next > this.pos.offset) {
      this.pos = { seq: record.segment, offset: record.next };
      this.undelivered -= record.count;
    } else if (record.segment > this.pos.seq) {
      // Unreachable in order; kept safe.
      this.pos = { seq: record.segment, offset: record.next };
      this.undelivered = this.countFrom(this.pos);
    }
    // Its segment may have been dropped while the record was in flight: then it was not counted lost.
    const b = Buffer.allocUnsafe(16);
    b.writeDoubleLE(this.pos.seq, 0);
    b.writeDoubleLE(this.pos.offset, 8);
    await this.ackHandle?.write(b, 0, 16, 0);
    const seg = this.segments.find((s) => s.seq === this.pos.seq);
    if (seg !== undefined && this.pos.offset >= seg.size && !this.isWriting(seg)) {
      const i = this.segments.indexOf(seg);
      if (i + 1 < this.segments.length) this.pos = { seq: this.segments[i + 1].seq, offset: 0 };
      await this.release(seg);
    }
  }

  /** Deletes a fully delivered segment. */
  private async release(seg: Segment): Promise<void> {
    if (this.isWriting(seg)) return;
    const i = this.segments.indexOf(seg);
    if (i < 0) return;
    this.segments.splice(i, 1);
    this.bytes -= seg.size;
    this.wal.shrank(seg.size);
    if (this.reader?.seq === seg.seq) {
      await this.reader.handle.close();
      this.reader = undefined;
    }
    await rm(seg.file, { force: true });
  }

  /**
   * Drops a whole segment to make room; returns the count of its undelivered records. Runs in turn
   * with this shard's appends: the segment may be the one being written, and rotating it away while
   * a write() awaits on its file handle would close the handle under that write (EBADF).
   */
  evict(seg: Segment): Promise<number> {
    const run = this.chain.then(() => this.evictNow(seg));
    this.chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async evictNow(seg: Segment): Promise<number> {
    // Delivered and released while waiting for its turn: nothing left to drop.
    if (!this.segments.includes(seg)) return 0;
    if (this.isWriting(seg)) await this.rotate();
    let lost = 0;
    for (let i = 0; i < seg.offsets.length; i++) {
      if (seg.seq > this.pos.seq || (seg.seq === this.pos.seq && seg.offsets[i] >= this.pos.offset)) lost += seg.counts[i];
    }
    // A record in flight from this segment is still delivered: its ack moves past it harmlessly.
    if (seg.seq >= this.pos.seq) {
      const i = this.segments.indexOf(seg);
      const after = this.segments[i + 1];
      this.pos = after !== undefined ? { seq: after.seq, offset: 0 } : { seq: seg.seq, offset: seg.size };
    }
    this.undelivered -= lost;
    await this.release(seg);
    return lost;
  }

  /** Resolves when a record is appended (or interrupt() is called). */
  waitForAppend(): Promise<void> {
    return new Promise((resolve) => {
      this.waiter = () => {
        this.waiter = undefined;
        resolve();
      };
    });
  }

  /** Ends a wait early (shutdown). */
  interrupt(): void {
    this.waiter?.();
  }

  async close(): Promise<void> {
    await this.chain;
    await this.writer?.close();
    this.writer = undefined;
    await this.reader?.handle.close();
    this.reader = undefined;
    await this.ackHandle?.close();
    this.ackHandle = undefined;
  }
}

export interface Generation {
  id: number;
  dir: string;
  shards: ShardLog[];
}

export class WriteAheadLog {
  /** Older generations (another shard count), oldest first: read them empty before `current`. */
  readonly old: Generation[] = [];
  current!: Generation;
  readonly segmentBytes: number;
  private seq = 0;
  private totalBytes = 0;
  private evicting: Promise<void> = Promise.resolve();
  /** Evictions that failed (see WalOptions.onEvictError). */
  evictFailures = 0;
  corruptions: Array<{ file: string; offset: number }> = [];

  private constructor(readonly options: WalOptions) {
    this.segmentBytes = options.segmentBytes ?? Math.min(MAX_SEGMENT_BYTES, Math.max(MIN_SEGMENT_BYTES, Math.floor(options.maxBytes / (4 * options.shards))));
  }

  static async open(options: WalOptions): Promise<WriteAheadLog> {
    const wal = new WriteAheadLog(options);
    try {
      await wal.load();
    } catch (err) {
      throw new WalError(`cannot open the write-ahead log in ${options.directory}: ${err instanceof Error ? err.message : String(err)}`, err);
    }
    return wal;
  }

  private async load(): Promise<void> {
    const dir = this.options.directory;
    await mkdir(dir, { recursive: true });
    const gens = (await readdir(dir)).filter((n) => /^gen-\d+$/.test(n)).sort();
    const loaded: Generation[] = [];
    for (const name of gens) {
      const gdir = path.join(dir, name);
      let shards: number;
      try {
        const meta = JSON.parse(await readFile(path.join(gdir, 'meta.json'), 'utf8')) as { shards?: unknown };
        shards = typeof meta.shards === 'number' ? meta.shards : NaN;
      } catch {
        shards = NaN;
      }
      if (!Number.isInteger(shards) || shards < 1) {
        // A generation whose meta.json never made it to disk holds nothing acknowledged.
        await rm(gdir, { recursive: true, force: true });
        continue;
      }
      loaded.push(await this.loadGeneration(Number(name.slice(4)), gdir, shards));
    }
    const last = loaded[loaded.length - 1];
    if (last !== undefined && last.shards.length === this.options.shards) {
      this.current = last;
      loaded.pop();
    } else {
      const id = (last?.id ?? 0) + 1;
      const gdir = path.join(dir, `gen-${pad(id, 6)}`);
      await mkdir(gdir, { recursive: true });
      await writeFile(path.join(gdir, 'meta.json'), `${JSON.stringify({ version: LOG_VERSION, shards: this.options.shards })}\n`);
      await this.syncDir(dir);
      this.current = await this.loadGeneration(id, gdir, this.options.shards);
    }
    // Older generations that are already empty go now.
    for (const g of loaded) {
      this.old.push(g);
      if (g.shards.every((s) => s.undelivered === 0)) await this.removeGeneration(g);
    }
  }

  private async loadGeneration(id: number, dir: string, shards: number): Promise<Generation> {
    const g: Generation = { id, dir, shards: [] };
    for (let i = 0; i < shards; i++) {
      const s = new ShardLog(this, path.join(dir, `shard-${pad(i, 3)}`), i);
      await s.load();
      for (const seg of s.segments) this.seq = Math.max(this.seq, seg.seq);
      this.totalBytes += s.bytes;
      g.shards.push(s);
    }
    return g;
  }

  /**
   * Deletes a generation that has been read empty. It leaves the log first, so a file-system error
   * while closing or deleting (thrown) leaves a folder behind, fully acknowledged, that the next
   * open deletes; never a generation half closed and still read.
   */
  async removeGeneration(g: Generation): Promise<void> {
    const i = this.old.indexOf(g);
    if (i >= 0) this.old.splice(i, 1);
    for (const s of g.shards) {
      this.totalBytes -= s.bytes;
      s.bytes = 0;
    }
    // Every shard's handles are closed even when one close fails.
    const closed = await Promise.allSettled(g.shards.map((s) => s.close()));
    const failed = closed.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    await rm(g.dir, { recursive: true, force: true });
  }

  nextSeq(): number {
    return ++this.seq;
  }

  bytes(): number {
    return this.totalBytes;
  }

  /** Records not yet delivered, all generations. */
  undelivered(): number {
    let n = 0;
    for (const g of [...this.old, this.current]) for (const s of g.shards) n += s.undelivered;
    return n;
  }

  grew(n: number): void {
    this.totalBytes += n;
    if (this.totalBytes > this.options.maxBytes) {
      // Nothing awaits this chain between appends: a rejection left in it would be unhandled (and
      // would end the process), and would stop every later eviction.
      this.evicting = this.evicting
        .then(() => this.enforceLimit())
        .catch((err: unknown) => {
          this.evictFailures++;
          this.options.onEvictError?.(err);
        });
    }
  }

  shrank(n: number): void {
    this.totalBytes -= n;
  }

  reportCorrupt(file: string, offset: number): void {
    this.corruptions.push({ file, offset });
  }

  /** Waits for evictions started by appends so far. */
  settled(): Promise<void> {
    return this.evicting;
  }

  /** Deletes oldest segments (by global sequence) until the log fits in maxBytes. */
  private async enforceLimit(): Promise<void> {
    while (this.totalBytes > this.options.maxBytes) {
      let oldest: { shard: ShardLog; seg: Segment } | undefined;
      for (const g of [...this.old, this.current]) {
        for (const s of g.shards) {
          const seg = s.segments[0];
          if (seg !== undefined && seg.size > 0 && (oldest === undefined || seg.seq < oldest.seg.seq)) oldest = { shard: s, seg };
        }
      }
      if (oldest === undefined) return;
      const lost = await oldest.shard.evict(oldest.seg);
      if (lost > 0) this.options.onDrop?.(lost, 'buffer_full');
    }
  }

  async syncDir(dir: string): Promise<void> {
    try {
      const h = await open(dir, 'r');
      try {
        await h.sync();
      } finally {
        await h.close();
      }
    } catch {
      // Some file systems refuse fsync on a directory; the files' own syncs still hold.
    }
  }

  async close(): Promise<void> {
    await this.evicting;
    for (const g of [...this.old, this.current]) for (const s of g.shards) await s.close();
  }

  /** Size of a file, 0 when absent (tests). */
  static async fileSize(file: string): Promise<number> {
    try {
      return (await stat(file)).size;
    } catch {
      return 0;
    }
  }
}
