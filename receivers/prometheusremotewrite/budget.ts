/**
 * The listener's memory budget (`max_inflight_bytes`): every request in flight holds a charge on it
 * for its body bytes as they arrive, its decoded bytes, and its decoded points (core/remotewrite/cost.ts),
 * released once its answer is decided. One budget for all requests together: it bounds the receiver's
 * heap whatever the mix of requests, where a count of requests times a size cap could not.
 */
export class InflightBudget {
  private used = 0;
  constructor(readonly capacityBytes: number) {}

  get usedBytes(): number {
    return this.used;
  }

  get availableBytes(): number {
    return this.capacityBytes - this.used;
  }

  /** A request's own share, released as a whole. */
  open(): Charge {
    return new Charge(this);
  }

  /** @internal Charge's side. */
  adjust(bytes: number): void {
    this.used += bytes;
  }
}

/** Why a charge was refused: `never` when the request alone is over capacity (413), `busy` when others hold the room (503). */
export type Refusal = 'never' | 'busy';

export class Charge {
  private held = 0;
  private released = false;
  constructor(private readonly budget: InflightBudget) {}

  get heldBytes(): number {
    return this.held;
  }

  /** Takes `bytes` more, or says why not (taking nothing). */
  take(bytes: number): Refusal | undefined {
    const refusal = this.refusalFor(bytes);
    if (refusal === undefined) {
      this.held += bytes;
      this.budget.adjust(bytes);
    }
    return refusal;
  }

  /** What taking `bytes` more would meet, without taking them. */
  refusalFor(bytes: number): Refusal | undefined {
    if (this.held + bytes > this.budget.capacityBytes) return 'never';
    if (bytes > this.budget.availableBytes) return 'busy';
    return undefined;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.budget.adjust(-this.held);
    this.held = 0;
  }
}
