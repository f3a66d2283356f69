/**
 * runtime.MemStats out of expvar's `/debug/vars` without building the document. Go serves ~10 KB
 * there (cmdline, memstats with BySize's 61 objects, PauseEnd's 256 numbers, and whatever vars the
 * program publishes); the derivations need ~25 numbers and PauseNs. JSON.parse of the whole body
 * made every one of those values (and the string of the body) per target per scrape: at 3,000
 * targets it was the receiver's top frame (bench/many-targets.ts, --cpu-prof).
 *
 * The scanner accepts and rejects exactly what `JSON.parse(body.toString('utf8'))` followed by the
 * field checks did, with the same messages: it walks the whole body checking JSON's grammar (a body
 * that is not JSON is refused even where the damage lies past memstats), turns into numbers only the
 * fields read, and skips the rest. Numbers are converted as JSON.parse does (Number() of the text:
 * LastGC, ns since the epoch, ~1.8e18, exceeds 2^53 and rounds to the nearest double either way, an
 * error below a microsecond). A key written with escapes (`"mem\u0073tats"`: Go never writes one)
 * could name a field once decoded: such a body goes the JSON.parse way, so the answer stays the same.
 *
 * Memory: the body is bounded by body_size_limit (core/scrape/http.ts). Beyond it the scanner holds
 * PauseNs (one number per >= 2 bytes of body; Go sends 256) and a nesting stack of one small int per
 * open bracket (<= body length); nothing else grows with the input.
 */
import type { MemStats } from '../model/profiles.js';
import { ProfileDecodeError } from './text.js';

type NumberField = Exclude<keyof MemStats, 'PauseNs' | 'PauseTotalNs'>;

const MEMSTATS_NUMBERS: readonly NumberField[] = [
  'Alloc', 'TotalAlloc', 'Sys', 'Mallocs', 'Frees', 'HeapAlloc', 'HeapSys', 'HeapIdle', 'HeapInuse',
  'HeapReleased', 'HeapObjects', 'StackInuse', 'StackSys', 'MSpanInuse', 'MSpanSys', 'MCacheInuse',
  'MCacheSys', 'BuckHashSys', 'GCSys', 'OtherSys', 'NextGC', 'LastGC', 'NumGC',
];

/** Slot of each field read: the numbers, then PauseTotalNs; PauseNs is kept apart. */
const PAUSE_TOTAL = MEMSTATS_NUMBERS.length;
/** Key ids besides the slots: PauseNs in memstats, memstats at the top; NO_KEY: a key not read. */
const PAUSE_NS = PAUSE_TOTAL + 1;
const MEMSTATS_KEY = PAUSE_TOTAL + 2;
const NO_KEY = -1;

/**
 * The keys read, as bytes, by length: a key is matched in place, without a string made for it
 * (two to four names share a length).
 */
const KEYS_BY_LENGTH: Array<Array<{ id: number; bytes: Uint8Array }>> = [];
for (const [name, id] of [...MEMSTATS_NUMBERS.map((f, i): [string, number] => [f, i]), ['PauseTotalNs', PAUSE_TOTAL], ['PauseNs', PAUSE_NS], ['memstats', MEMSTATS_KEY]] as const) {
  (KEYS_BY_LENGTH[name.length] ??= []).push({ id, bytes: Buffer.from(name, 'latin1') });
}

const NO_MEMSTATS = '/debug/vars has no "memstats" (expvar not imported?)';

/** Thrown inside the scanner for a body that is not JSON; becomes the ProfileDecodeError of today. */
class NotJson extends Error {}
/** A key with escapes was met where a key matters: the body is read with JSON.parse instead. */
class EscapedKey extends Error {}

const OBJECT = 1;
const ARRAY = 2;

/** What the memstats object held, slot by slot, for the checks after the scan. */
class MemStatsFields {
  /** 0: absent, 1: a number (in `values`), 2: something else. Plain arrays: a typed array costs a runtime call to make. */
  readonly kind: number[] = new Array<number>(PAUSE_TOTAL + 1).fill(0);
  readonly values: number[] = new Array<number>(PAUSE_TOTAL + 1).fill(0);
  /** undefined: absent or not a list of numbers (`pausesBad`). */
  pauses: number[] | undefined;
  pausesBad = false;
}

/**
 * Bodies up to this size are copied into one reused buffer for the scan (Go's ~10 KB and programs
 * with large vars alike); a larger one gets a copy of its own for the scan's length, so what stays
 * between scrapes is at most this.
 */
const SCRATCH_MAX_BYTES = 1024 * 1024;

/**
 * PauseNs is read into this array, reused, and handed on as one copy of its exact length: pushed onto
 * a new array its 256 numbers reallocated the array six times, the receiver's largest allocation per
 * scrape (bench/many-targets.ts, a sampling heap profile). Kept at Go's 256 entries between scrapes.
 */
const PAUSES_KEPT = 256;
const pauseScratch: number[] = [];
let scratch = new Uint8Array(16 * 1024);

/**
 * The body followed by a 0 byte. No JSON token may hold a raw 0 byte (and no token ends on one), so
 * every loop stops on it without comparing positions with the length, and the JIT never reads past
 * the array's end (which would make every byte read a number-or-undefined).
 */
function terminated(body: Buffer): Uint8Array {
  const need = body.length + 1;
  let buf = scratch;
  if (need > buf.length) {
    buf = new Uint8Array(Math.max(need, Math.min(2 * buf.length, SCRATCH_MAX_BYTES)));
    if (buf.length <= SCRATCH_MAX_BYTES) scratch = buf;
  }
  buf.set(body);
  buf[body.length] = 0;
  return buf;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

class Scanner {
  pos = 0;
  private readonly buf: Uint8Array;
  private readonly end: number;
  /** Open containers of the value being skipped (OBJECT or ARRAY). */
  private readonly stack: number[] = [];
  /** What the last memstats key held: the last one wins, as in JSON.parse. */
  memstats: MemStatsFields | null | undefined;

  constructor(body: Buffer) {
    this.buf = terminated(body);
    this.end = body.length;
  }

  /** The whole body: one value, whitespace around it, nothing after. */
  document(): void {
    this.ws();
    if (this.buf[this.pos] === 0x7b /* { */) this.topObject();
    else {
      this.skipValue();
      this.memstats = null;
    }
    this.ws();
    if (this.pos !== this.end) throw new NotJson();
  }

  private ws(): void {
    const buf = this.buf;
    let pos = this.pos;
    let c = buf[pos];
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = buf[++pos];
    this.pos = pos;
  }

  private expect(byte: number): void {
    if (this.buf[this.pos] !== byte) throw new NotJson();
    this.pos++;
  }

  private topObject(): void {
    this.pos++;
    this.ws();
    if (this.buf[this.pos] === 0x7d /* } */) {
      this.pos++;
      return;
    }
    for (;;) {
      const key = this.key();
      this.ws();
      this.expect(0x3a /* : */);
      this.ws();
      if (key === MEMSTATS_KEY) {
        if (this.buf[this.pos] === 0x7b) this.memstats = this.memstatsObject();
        else {
          this.skipValue();
          this.memstats = null;
        }
      } else this.skipValue();
      this.ws();
      const c = this.buf[this.pos++];
      if (c === 0x7d) return;
      if (c !== 0x2c /* , */) throw new NotJson();
      this.ws();
    }
  }

  private memstatsObject(): MemStatsFields {
    const fields = new MemStatsFields();
    const buf = this.buf;
    this.pos++;
    this.ws();
    if (buf[this.pos] === 0x7d) {
      this.pos++;
      return fields;
    }
    for (;;) {
      const slot = this.key();
      this.ws();
      this.expect(0x3a);
      this.ws();
      const c = buf[this.pos];
      if (slot < PAUSE_NS && slot !== NO_KEY) {
        if (c === 0x2d /* - */ || isDigit(c)) {
          fields.values[slot] = this.number();
          fields.kind[slot] = 1;
        } else {
          this.skipValue();
          fields.kind[slot] = 2;
        }
      } else if (slot === PAUSE_NS) {
        if (c === 0x5b /* [ */) this.pauses(fields);
        else {
          this.skipValue();
          fields.pauses = undefined;
          fields.pausesBad = true;
        }
      } else this.skipValue();
      this.ws();
      const next = buf[this.pos++];
      if (next === 0x7d) return fields;
      if (next !== 0x2c) throw new NotJson();
      this.ws();
    }
  }

  private pauses(fields: MemStatsFields): void {
    const buf = this.buf;
    const out = pauseScratch;
    let n = 0;
    let bad = false;
    this.pos++;
    this.ws();
    if (buf[this.pos] === 0x5d /* ] */) this.pos++;
    else {
      for (;;) {
        const c = buf[this.pos];
        if (c === 0x2d || isDigit(c)) out[n++] = this.number();
        else {
          this.skipValue();
          bad = true;
        }
        this.ws();
        const next = buf[this.pos++];
        if (next === 0x5d) break;
        if (next !== 0x2c) throw new NotJson();
        this.ws();
      }
    }
    fields.pauses = bad ? undefined : out.slice(0, n);
    if (out.length > PAUSES_KEPT) out.length = PAUSES_KEPT;
    fields.pausesBad = bad;
  }

  /** Which of the keys read an object key is (NO_KEY: none); one with escapes cannot be compared so: EscapedKey. */
  private key(): number {
    const start = this.pos + 1;
    if (this.string()) throw new EscapedKey();
    const candidates = KEYS_BY_LENGTH[this.pos - 1 - start];
    if (candidates === undefined) return NO_KEY;
    const buf = this.buf;
    next: for (const { id, bytes } of candidates) {
      for (let i = 0; i < bytes.length; i++) if (buf[start + i] !== bytes[i]) continue next;
      return id;
    }
    return NO_KEY;
  }

  /** Skips a string (at its opening quote); true if it held an escape. */
  private string(): boolean {
    const buf = this.buf;
    let pos = this.pos;
    if (buf[pos] !== 0x22 /* " */) throw new NotJson();
    let escaped = false;
    for (;;) {
      const c = buf[++pos];
      if (c === 0x22) break;
      // A raw control character (the terminating 0 among them): JSON.parse refuses it.
      if (c < 0x20) throw new NotJson();
      if (c === 0x5c /* \ */) {
        escaped = true;
        const e = buf[pos + 1];
        if (e === 0x75 /* u */) {
          // Stops at the first byte that is not hex, so never past the terminating 0.
          for (let k = pos + 2; k < pos + 6; k++) if (!isHex(buf[k])) throw new NotJson();
          pos += 5;
        } else if (e === 0x22 || e === 0x5c || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) pos++;
        else throw new NotJson();
      }
    }
    this.pos = pos + 1;
    return escaped;
  }

  /** Skips a number in JSON's grammar; returns where its integer digits end (for number()). */
  private skipNumber(): number {
    const buf = this.buf;
    let pos = this.pos;
    if (buf[pos] === 0x2d) pos++;
    let c = buf[pos];
    if (c === 0x30) c = buf[++pos];
    else if (c >= 0x31 && c <= 0x39) {
      do c = buf[++pos];
      while (isDigit(c));
    } else throw new NotJson();
    const integerEnd = pos;
    if (c === 0x2e /* . */) {
      c = buf[++pos];
      if (!isDigit(c)) throw new NotJson();
      do c = buf[++pos];
      while (isDigit(c));
    }
    if (c === 0x65 || c === 0x45 /* e E */) {
      c = buf[++pos];
      if (c === 0x2b || c === 0x2d) c = buf[++pos];
      if (!isDigit(c)) throw new NotJson();
      do c = buf[++pos];
      while (isDigit(c));
    }
    this.pos = pos;
    return integerEnd;
  }

  /** A number in JSON's grammar, converted as JSON.parse converts it. */
  private number(): number {
    const start = this.pos;
    const integerEnd = this.skipNumber();
    const end = this.pos;
    // A sign, a fraction or an exponent: Number() of the text, as JSON.parse converts it.
    if (integerEnd === end && this.buf[start] !== 0x2d) return decimalDigits(this.buf, start, end);
    return Number(latin1(this.buf, start, end));
  }

  private literal(text: string): void {
    const buf = this.buf;
    // Compares byte by byte, so stops at the terminating 0 at the latest.
    for (let i = 0; i < text.length; i++) if (buf[this.pos + i] !== text.charCodeAt(i)) throw new NotJson();
    this.pos += text.length;
  }

  /** Skips one value of any kind, checking its grammar; nesting is kept on `stack`, not the call stack. */
  private skipValue(): void {
    const buf = this.buf;
    const stack = this.stack;
    const base = stack.length;
    for (;;) {
      // One value starts here.
      this.ws();
      const c = buf[this.pos];
      if (c === 0x7b || c === 0x5b) {
        this.pos++;
        this.ws();
        if (buf[this.pos] === (c === 0x7b ? 0x7d : 0x5d)) this.pos++;
        else {
          stack.push(c === 0x7b ? OBJECT : ARRAY);
          if (c === 0x7b) this.memberHead();
          continue;
        }
      } else if (c === 0x22) this.string();
      else if (c === 0x2d || isDigit(c)) this.skipNumber();
      else if (c === 0x74) this.literal('true');
      else if (c === 0x66) this.literal('false');
      else if (c === 0x6e) this.literal('null');
      else throw new NotJson();
      // The value ended: close what ends with it, or go on to the next member or element.
      for (;;) {
        if (stack.length === base) return;
        this.ws();
        const top = stack[stack.length - 1];
        const next = buf[this.pos++];
        if (next === 0x2c) {
          if (top === OBJECT) {
            this.ws();
            this.memberHead();
          }
          break;
        }
        if (next !== (top === OBJECT ? 0x7d : 0x5d)) throw new NotJson();
        stack.pop();
      }
    }
  }

  /** `"key" :` of a member in a skipped object. */
  private memberHead(): void {
    this.ws();
    this.string();
    this.ws();
    this.expect(0x3a);
  }
}

/**
 * The number buf[start, end) spells in decimal digits (all digits, at least one), as Number() of its text
 * converts it: up to 15 digits exactly as a sum of digits (no string made); longer ones (LastGC's 19)
 * round as Number() rounds them, so through the text.
 */
export function decimalDigits(buf: Uint8Array, start: number, end: number): number {
  if (end - start > 15) return Number(latin1(buf, start, end));
  let value = 0;
  for (let i = start; i < end; i++) value = value * 10 + (buf[i] - 0x30);
  return value;
}

/** Bytes as a string, one character each (keys and number texts: ASCII where they matter). */
function latin1(buf: Uint8Array, start: number, end: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('latin1');
}

function isHex(c: number): boolean {
  return ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));
}

function notCount(field: string): ProfileDecodeError {
  return new ProfileDecodeError(`/debug/vars memstats.${field} is not a count`);
}

function isCount(v: number): boolean {
  return Number.isFinite(v) && v >= 0;
}

/** runtime.MemStats from expvar's JSON (see the top of this file for what is read and how). */
export function parseExpvarMemStats(body: Buffer): MemStats {
  const scanner = new Scanner(body);
  try {
    scanner.document();
  } catch (err) {
    if (err instanceof NotJson) throw new ProfileDecodeError('/debug/vars is not JSON');
    if (err instanceof EscapedKey) return parseExpvarMemStatsByJsonParse(body);
    throw err;
  }
  const fields = scanner.memstats;
  if (fields === undefined || fields === null) throw new ProfileDecodeError(NO_MEMSTATS);
  for (let i = 0; i < MEMSTATS_NUMBERS.length; i++) if (fields.kind[i] !== 1 || !isCount(fields.values[i])) throw notCount(MEMSTATS_NUMBERS[i]);
  if (fields.pauses === undefined) throw new ProfileDecodeError('/debug/vars memstats.PauseNs is not a list of numbers');
  const v = fields.values;
  // One literal in MEMSTATS_NUMBERS' order (checked by the tests against the JSON.parse reading), so
  // every result has one shape rather than keys added one by one.
  const stats: MemStats = {
    Alloc: v[0], TotalAlloc: v[1], Sys: v[2], Mallocs: v[3], Frees: v[4], HeapAlloc: v[5], HeapSys: v[6], HeapIdle: v[7],
    HeapInuse: v[8], HeapReleased: v[9], HeapObjects: v[10], StackInuse: v[11], StackSys: v[12], MSpanInuse: v[13],
    MSpanSys: v[14], MCacheInuse: v[15], MCacheSys: v[16], BuckHashSys: v[17], GCSys: v[18], OtherSys: v[19], NextGC: v[20],
    LastGC: v[21], NumGC: v[22], PauseNs: fields.pauses,
  };
  if (fields.kind[PAUSE_TOTAL] === 1) stats.PauseTotalNs = v[PAUSE_TOTAL];
  return stats;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The reading by JSON.parse of the whole document: used for a body whose keys carry escapes, and the
 * reference the scanner is tested against (test/core/pprof/expvar.test.ts).
 */
export function parseExpvarMemStatsByJsonParse(body: Buffer): MemStats {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ProfileDecodeError('/debug/vars is not JSON');
  }
  if (!isRecord(parsed) || !isRecord(parsed.memstats)) throw new ProfileDecodeError(NO_MEMSTATS);
  const raw = parsed.memstats;
  const stats: Partial<MemStats> = {};
  for (const field of MEMSTATS_NUMBERS) {
    const v = raw[field];
    if (typeof v !== 'number' || !isCount(v)) throw notCount(field);
    stats[field] = v;
  }
  const pauses = raw.PauseNs;
  if (!Array.isArray(pauses) || !pauses.every((p): p is number => typeof p === 'number')) {
    throw new ProfileDecodeError('/debug/vars memstats.PauseNs is not a list of numbers');
  }
  stats.PauseNs = pauses;
  if (typeof raw.PauseTotalNs === 'number') stats.PauseTotalNs = raw.PauseTotalNs;
  return stats as MemStats;
}
