/**
 * Pieces of the fused encoder (WriteRequestEncoder.encodeCompressed): a writer of the snappy block
 * format that takes literals and copies from its caller instead of finding matches by hashing, and
 * the per-series "recipe" that says which parts of a series' cached label bytes equal parts of
 * another series' labels, so that they go out as copies of where that series was written earlier in
 * the same request.
 *
 * Why this is allowed (google/snappy format_description.txt, section 2): a copy names an offset back
 * from the current end of the decompressed output, with a 1-byte (offsets < 2048, lengths 4..11),
 * 2-byte (< 65536) or 4-byte (< 2^32) offset field; a decoder checks only that the offset is not
 * zero and not beyond what it has produced. The 64 KiB fragments of snappy's own compressor are a
 * convention of that compressor, not of the format. So a copy may reach back to any earlier series of
 * the request; past 64 KiB it costs 5 bytes instead of 3.
 */

/** Bytes kept free before the stream for the preamble (the uncompressed length, a varint < 2^32). */
const PREAMBLE = 5;

/**
 * Where a series was last written by encodeCompressed, in decompressed offsets. A recipe refers to
 * another series through this small cell, never the series itself, so a cached series keeps no
 * other series alive (a chain of references could otherwise hold evicted series without bound).
 */
export class WrittenAt {
  /** Number of the request it was written in: the offsets below count only when this is the current one. */
  epoch = 0;
  /** Offset of the TimeSeries tag. */
  at = 0;
  /** Offset of the first label, after the tag and the body's length. */
  labelsAt = 0;
  /** Offset just after the labels: where the first Sample field starts. */
  samplesAt = 0;
  /** The TimeSeries body length written: equal lengths mean equal header bytes. */
  bodyLength = -1;
  /** The first Sample's length byte (its header is 0x12, this, 0x09), -1 when not known. */
  firstSampleLength = -1;
  /** The first Sample's value as two little-endian 32-bit halves, and its timestamp. */
  valueLo = 0;
  valueHi = 0;
  firstTs = 0;
}

/**
 * A snappy block written piece by piece. Literal bytes are written by the caller after the tag byte
 * that opening a run reserves (widened when the run passes 60 bytes, which moves the run: rare with
 * copies between); a copy is kept pending so that the next copy at the same distance (the
 * continuation of the same source) extends it instead of adding a tag. `dpos` counts the
 * decompressed bytes, from which the caller computes copy distances.
 *
 * The state is public so that the encoder's per-series loop can hold it in locals (one capacity
 * check per series, `reserve`), using `putCopy` and `closeLiteral` for the tags; the methods here
 * do the same for the rare pieces (metadata) and the end.
 */
export class SnappyBlockWriter {
  out: Uint8Array;
  /** Next free index in `out`. */
  op = PREAMBLE;
  /** Decompressed bytes so far. */
  dpos = 0;
  /** Index of the open literal run's tag byte, or -1. */
  lit = -1;
  /** The pending copy (length 0: none). */
  copyDistance = 0;
  copyLength = 0;

  constructor(initialSize = 64 * 1024) {
    this.out = new Uint8Array(Math.max(initialSize, 64));
  }

  reset(): void {
    this.op = PREAMBLE;
    this.dpos = 0;
    this.lit = -1;
    this.copyLength = 0;
  }

  /**
   * Room for writing `decompressed` more bytes of output in any mix of literals and copies, plus the
   * flush of the pending copy: a byte costs at most two (a 1-byte literal run with its tag; a copy
   * of 2 or more bytes costs at most 3, or 5 past 64 KiB, per up to 64), a run widens by at most 4.
   */
  reserve(decompressed: number): Uint8Array {
    const room = 2 * decompressed + 5 * ((this.copyLength >>> 6) + 2) + 16;
    if (this.op + room > this.out.length) {
      let size = this.out.length * 2;
      while (size < this.op + room) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.out.subarray(0, this.op));
      this.out = next;
    }
    return this.out;
  }

  /** src[start, end) as literal bytes. */
  literalBytes(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (n <= 0) return;
    const out = this.reserve(n);
    if (this.copyLength !== 0) {
      this.op = putCopy(out, this.op, this.copyDistance, this.copyLength);
      this.copyLength = 0;
    }
    if (this.lit < 0) this.lit = this.op++;
    out.set(src.subarray(start, end), this.op);
    this.op += n;
    this.dpos += n;
  }

  /** The stream, preamble first, in a Buffer of its own. The writer may be reset afterwards. */
  finish(): Buffer {
    const out = this.reserve(0);
    if (this.copyLength !== 0) {
      this.op = putCopy(out, this.op, this.copyDistance, this.copyLength);
      this.copyLength = 0;
    }
    if (this.lit >= 0) {
      this.op = closeLiteral(out, this.lit, this.op);
      this.lit = -1;
    }
    let v = this.dpos;
    let size = 1;
    for (let x = v; x > 0x7f; x >>>= 7) size++;
    const start = PREAMBLE - size;
    let at = start;
    while (v > 0x7f) {
      out[at++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    out[at] = v;
    // A copy of the used part as an ArrayBuffer of its own (ArrayBuffer.slice is one allocation and
    // memcpy, about twice as fast here as Buffer.allocUnsafe plus set at 50-60 KiB).
    return Buffer.from(out.buffer.slice(start, this.op));
  }
}

/**
 * Writes the tag of the literal run whose tag byte is at `lit` and whose bytes end at `op`; returns
 * the new end. Past 60 bytes the tag needs 1-4 more bytes and the run moves (room: see `reserve`).
 */
export function closeLiteral(out: Uint8Array, lit: number, op: number): number {
  const n = op - lit - 1;
  if (n === 0) return lit;
  const m = n - 1; // the tag holds length - 1
  if (m < 60) {
    out[lit] = m << 2;
    return op;
  }
  const extra = m < 0x100 ? 1 : m < 0x10000 ? 2 : m < 0x1000000 ? 3 : 4;
  out.copyWithin(lit + 1 + extra, lit + 1, op);
  out[lit] = (59 + extra) << 2;
  for (let i = 0, v = m; i < extra; i++, v >>>= 8) out[lit + 1 + i] = v & 0xff;
  return op + extra;
}

/** Writes a copy of `len` bytes from `d` back as snappy's pieces of at most 64; returns the new end. */
export function putCopy(out: Uint8Array, op: number, d: number, len: number): number {
  if (len >= 4 && len < 12 && d < 2048) {
    // The common short case (a timestamp): the 1-byte-offset form.
    out[op] = 1 | ((len - 4) << 2) | ((d >>> 8) << 5);
    out[op + 1] = d & 0xff;
    return op + 2;
  }
  if (d >= 0x10000) {
    // 4-byte offset: only where a series refers back past 64 KiB.
    while (len > 0) {
      const piece = len > 64 ? 64 : len;
      out[op++] = 3 | ((piece - 1) << 2);
      out[op++] = d & 0xff;
      out[op++] = (d >>> 8) & 0xff;
      out[op++] = (d >>> 16) & 0xff;
      out[op++] = d >>> 24;
      len -= piece;
    }
    return op;
  }
  // Pieces of 64 while more than 67 remain, so the last is at least 4 (the 1-byte-offset form's minimum).
  while (len >= 68) {
    out[op++] = 2 | (63 << 2);
    out[op++] = d & 0xff;
    out[op++] = d >>> 8;
    len -= 64;
  }
  if (len > 64) {
    out[op++] = 2 | (59 << 2);
    out[op++] = d & 0xff;
    out[op++] = d >>> 8;
    len -= 60;
  }
  if (len >= 4 && len < 12 && d < 2048) {
    out[op++] = 1 | ((len - 4) << 2) | ((d >>> 8) << 5);
    out[op++] = d & 0xff;
  } else {
    out[op++] = 2 | ((len - 1) << 2);
    out[op++] = d & 0xff;
    out[op++] = d >>> 8;
  }
  return op;
}

/**
 * A candidate to copy label bytes from: a series already written in the current request, its cached
 * label bytes, and its cell.
 */
export interface RecipeSource {
  readonly labels: Uint8Array;
  readonly written: WrittenAt;
}

/**
 * A series' label bytes as ops, three numbers each: [length, source index or -1 for literal, offset
 * in the source's labels]. Ops follow each other over the series' own label bytes.
 */
export interface Recipe {
  readonly ops: number[];
  readonly sources: WrittenAt[];
}

/** Copies shorter than this go as literals: a copy's tag costs 2-3 bytes. */
const MIN_COPY = 4;

/**
 * Label field bounds, four numbers per field: start, end, name start, name end. Scratch reused by
 * every buildRecipe (one for the series, one per candidate), so the cold path allocates no spans.
 */
const SPAN = 4;
const MAX_CANDIDATES = 2;
const spanScratch: Int32Array[] = Array.from({ length: MAX_CANDIDATES + 1 }, () => new Int32Array(64 * SPAN));
/** Ops of one field against one candidate, and of the best candidate so far (setting an array's length costs a runtime call). */
const trialOps = { ops: new Int32Array(3 * 64), n: 0 };
const bestOps = { ops: new Int32Array(3 * 64), n: 0 };
/** The recipe being built; copied out at its exact length when done. */
const recipeOps = { ops: new Int32Array(3 * 64), n: 0 };
type OpList = typeof trialOps;

/**
 * The Label fields of encoded labels (0x0a len { 0x0a nlen name 0x12 vlen value }) into
 * spanScratch[slot] (grown as needed); returns the number of fields.
 */
function pairsOf(labels: Uint8Array, slot: number): number {
  let spans = spanScratch[slot];
  let n = 0;
  let pos = 0;
  while (pos < labels.length) {
    let at = pos + 1;
    let len = 0;
    for (let shift = 0; ; shift += 7) {
      const x = labels[at++];
      len += (x & 0x7f) * 2 ** shift;
      if (x < 0x80) break;
    }
    const body = at;
    at++; // the name's tag
    let nlen = 0;
    for (let shift = 0; ; shift += 7) {
      const x = labels[at++];
      nlen += (x & 0x7f) * 2 ** shift;
      if (x < 0x80) break;
    }
    if ((n + 1) * SPAN > spans.length) {
      const grown = new Int32Array(spans.length * 2);
      grown.set(spans);
      spans = spanScratch[slot] = grown;
    }
    const k = n * SPAN;
    spans[k] = pos;
    spans[k + 1] = body + len;
    spans[k + 2] = at;
    spans[k + 3] = at + nlen;
    n++;
    pos = body + len;
  }
  return n;
}

/**
 * Index of the field of `b` (spans in slot `bs`, `bn` fields) named as field `p` of `a`, or -1. The
 * search starts at field `from` and wraps: both label sets are in name order, so the field after the
 * last one matched is nearly always the one, and a series of n labels costs n name comparisons, not n^2.
 */
function fieldNamed(a: Uint8Array, as: Int32Array, p: number, b: Uint8Array, bs: Int32Array, bn: number, from: number): number {
  const nameStart = as[p + 2];
  const n = as[p + 3] - nameStart;
  outer: for (let k = 0; k < bn; k++) {
    let j = from + k;
    if (j >= bn) j -= bn;
    const q = j * SPAN;
    if (bs[q + 3] - bs[q + 2] !== n) continue;
    for (let i = 0; i < n; i++) if (a[nameStart + i] !== b[bs[q + 2] + i]) continue outer;
    return q;
  }
  return -1;
}

/** Appends an op to a scratch list (grown as needed), merging it with the last one when it continues it. */
function pushTrial(list: OpList, len: number, source: number, offset: number): void {
  if (len <= 0) return;
  const k = list.n - 3;
  let ops = list.ops;
  if (k >= 0 && ops[k + 1] === source && (source < 0 || ops[k + 2] + ops[k] === offset)) {
    ops[k] += len;
    return;
  }
  if (list.n + 3 > ops.length) {
    const grown = new Int32Array(ops.length * 2);
    grown.set(ops);
    ops = list.ops = grown;
  }
  ops[list.n] = len;
  ops[list.n + 1] = source;
  ops[list.n + 2] = offset;
  list.n += 3;
}

/**
 * Ops for one Label field [ps, pe) of `own` against a field [qs, qe) of the same name in `src`:
 * equal runs of MIN_COPY bytes or more are copies, the rest literal. Values of equal length are
 * compared position by position (so "10.0.1.7:6060" against "10.0.1.9:6060" copies both sides of
 * the one digit); values of different lengths from the start and from the end (a common prefix and
 * a common suffix). Returns the cost in output bytes, about.
 */
function diffPair(own: Uint8Array, ps: number, pe: number, src: Uint8Array, qs: number, qe: number, source: number, ops: OpList): number {
  const lp = pe - ps;
  const lq = qe - qs;
  let suffix = 0;
  if (lp !== lq) {
    const max = Math.min(lp, lq);
    while (suffix < max && own[pe - 1 - suffix] === src[qe - 1 - suffix]) suffix++;
    if (suffix < MIN_COPY) suffix = 0;
  }
  const alignedEnd = Math.min(lp, lq) - suffix;
  const ownEnd = lp - suffix;
  let literalFrom = 0;
  let cost = 0;
  let i = 0;
  while (i < alignedEnd) {
    if (own[ps + i] !== src[qs + i]) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < alignedEnd && own[ps + j] === src[qs + j]) j++;
    if (j - i >= MIN_COPY) {
      pushTrial(ops, i - literalFrom, -1, 0);
      pushTrial(ops, j - i, source, qs + i);
      cost += i - literalFrom + 3;
      literalFrom = j;
    }
    i = j;
  }
  pushTrial(ops, ownEnd - literalFrom, -1, 0);
  cost += ownEnd - literalFrom;
  if (suffix > 0) {
    pushTrial(ops, suffix, source, qe - suffix);
    cost += 3;
  }
  return cost;
}

/**
 * The recipe of `labels` against up to MAX_CANDIDATES sources written earlier in the request: for
 * each Label field, the source whose field of the same name costs the fewest bytes (a tie goes to
 * the source of the previous op, so copies from one series join into one). Runs once per series,
 * and again only when a source is missing from a later request.
 */
export function buildRecipe(labels: Uint8Array, candidates: readonly RecipeSource[]): Recipe {
  const scratch = recipeInScratch(labels, candidates);
  // A plain array of small integers: a typed array's slice costs a backing store of its own, which
  // was a third of buildRecipe's time on a new series.
  const out = new Array<number>(scratch.n);
  for (let k = 0; k < scratch.n; k++) out[k] = scratch.ops[k];
  return { ops: out, sources: scratch.sources.slice() };
}

/**
 * A recipe in scratch, valid until the next recipe is built: `ops[0, n)` and `sources` as in Recipe.
 * For a series written once (the first time the encoder meets it), whose recipe need not be kept.
 */
export interface ScratchRecipe {
  readonly ops: Int32Array;
  readonly n: number;
  readonly sources: WrittenAt[];
}

const scratchSources: WrittenAt[] = [];

/** buildRecipe's recipe left in scratch (ScratchRecipe): no allocation. */
export function recipeInScratch(labels: Uint8Array, candidates: readonly RecipeSource[]): ScratchRecipe {
  const ops = recipeOps;
  ops.n = 0;
  const sources = scratchSources;
  sources.length = 0;
  const count = Math.min(candidates.length, MAX_CANDIDATES);
  const ownCount = pairsOf(labels, 0);
  const ownSpans = spanScratch[0];
  const theirCount0 = count > 0 ? pairsOf(candidates[0].labels, 1) : 0;
  const theirCount1 = count > 1 ? pairsOf(candidates[1].labels, 2) : 0;
  // Where to look for the next field's name in each candidate (see fieldNamed).
  let from0 = 0;
  let from1 = 0;
  let lastSource = -1;
  for (let f = 0; f < ownCount; f++) {
    const p = f * SPAN;
    const ps = ownSpans[p];
    const pe = ownSpans[p + 1];
    let bestCost = pe - ps;
    let bestCandidate = -1;
    for (let c = 0; c < count; c++) {
      const src = candidates[c].labels;
      const spans = spanScratch[c + 1];
      const q = c === 0 ? fieldNamed(labels, ownSpans, p, src, spans, theirCount0, from0) : fieldNamed(labels, ownSpans, p, src, spans, theirCount1, from1);
      if (q < 0) continue;
      if (c === 0) from0 = q / SPAN + 1;
      else from1 = q / SPAN + 1;
      trialOps.n = 0;
      const cost = diffPair(labels, ps, pe, src, spans[q], spans[q + 1], c, trialOps);
      if (cost < bestCost || (cost === bestCost && bestCandidate >= 0 && c === lastSource)) {
        bestCost = cost;
        bestCandidate = c;
        if (bestOps.ops.length < trialOps.n) bestOps.ops = new Int32Array(trialOps.ops.length);
        const from = trialOps.ops;
        const to = bestOps.ops;
        for (let k = 0; k < trialOps.n; k++) to[k] = from[k];
        bestOps.n = trialOps.n;
      }
    }
    if (bestCandidate < 0) {
      pushTrial(ops, pe - ps, -1, 0);
      continue;
    }
    // Renumber the candidate to its index in `sources`.
    const written = candidates[bestCandidate].written;
    let index = sources.indexOf(written);
    if (index < 0) index = sources.push(written) - 1;
    const best = bestOps.ops;
    for (let k = 0; k < bestOps.n; k += 3) pushTrial(ops, best[k], best[k + 1] < 0 ? -1 : index, best[k + 2]);
    lastSource = bestCandidate;
  }
  return { ops: ops.ops, n: ops.n, sources };
}
