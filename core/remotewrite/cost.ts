/**
 * What decoding a remote-write request costs in heap, charged while decoding, before the memory is
 * taken: the receiver's `max_inflight_bytes` budget needs the price of a request before it holds it,
 * and a request's sample count is not bounded by its size in any useful way (an empty Sample is two
 * bytes on the wire and ~100 bytes as a point).
 *
 * The constants are measured by bench/receiver-point-cost.ts (heap after GC, decoded result held,
 * divided out over requests of different shapes) and rounded up; that bench prints the model's
 * estimate beside the measured heap for each shape and fails when the model is below the measure.
 */
import { DecodeError } from './reader.js';

/** One point object (family, name, labels, value, timestamp, stale) with its labels object's header, plus the decode-time arrays. */
export const POINT_HEAP_BYTES = 160;
/** Each label of a point's own labels object (every point owns a copy: the next stage may change it). */
export const POINT_LABEL_HEAP_BYTES = 24;
/** Each label read: its name and value strings (short strings cost ~20 bytes of header) and the property. */
export const LABEL_HEAP_BYTES = 64;
/** Each series' span kept between the decoder's two passes; each symbol of a 2.0 symbol table; each 2.0 label ref. */
export const SPAN_HEAP_BYTES = 16;
export const SYMBOL_HEAP_BYTES = 40;
export const REF_HEAP_BYTES = 8;

/** The request needs more than the budget the decoder was given; `neededBytes` is its whole price. */
export class OverBudgetError extends DecodeError {
  constructor(
    readonly neededBytes: number,
    readonly limitBytes: number,
  ) {
    super(`decoding takes ~${neededBytes} bytes of heap, over the ${limitBytes} bytes available`);
    this.name = 'OverBudgetError';
  }
}

/**
 * The running price of one decode. Once over the limit the decoder stops keeping anything and only
 * counts on, so the receiver learns the whole price (413 when it can never fit, else 503) for the
 * cost of a walk over the bytes.
 */
export class DecodeCost {
  used = 0;
  constructor(readonly limitBytes: number = Number.POSITIVE_INFINITY) {}

  /** Adds `bytes`; false once the total is over the limit. */
  charge(bytes: number): boolean {
    this.used += bytes;
    return this.used <= this.limitBytes;
  }

  get over(): boolean {
    return this.used > this.limitBytes;
  }

  /** Throws OverBudgetError when over: called at the end of a decode. */
  settle(): void {
    if (this.over) throw new OverBudgetError(this.used, this.limitBytes);
  }
}
