/**
 * One pending wait of a channel side (a read or a flush): the promise, how to settle it, and
 * the AbortSignal that can reject it. Reused for every wait of that side, so only the promise
 * itself is allocated per wait.
 *
 * @module
 */

/** A reusable one-at-a-time wait. */
export class Waiter<T> {
  /** True from `wait()` until it settles. */
  pending: boolean = false;
  #promise: Promise<T> | undefined;
  #resolve: ((value: T) => void) | undefined;
  #reject: ((reason: unknown) => void) | undefined;
  #signal: AbortSignal | undefined;
  // The abort listener, made on the first wait with a signal (most waits have none, and an
  // idle channel should cost little heap).
  #onAbort: (() => void) | undefined;
  readonly #onAborted: () => void;

  /** @param onAborted Runs after an abort rejected the wait (the owner resets its state). */
  constructor(onAborted: () => void) {
    this.#onAborted = onAborted;
  }

  /** The promise of the pending wait (only while `pending`). */
  get promise(): Promise<T> {
    return this.#promise as Promise<T>;
  }

  /** Starts a wait that `signal` can abort. */
  wait(signal: AbortSignal | undefined): Promise<T> {
    this.pending = true;
    this.#promise = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    if (signal !== undefined) {
      this.#signal = signal;
      this.#onAbort ??= () => {
        const reason = this.#signal?.reason;
        this.reject(reason);
        this.#onAborted();
      };
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
    return this.#promise;
  }

  /** Settles the pending wait with `value`. */
  resolve(value: T): void {
    const resolve = this.#resolve;
    this.#settle();
    resolve?.(value);
  }

  /** Rejects the pending wait with `reason`. */
  reject(reason: unknown): void {
    const reject = this.#reject;
    this.#settle();
    reject?.(reason);
  }

  #settle(): void {
    this.pending = false;
    this.#resolve = undefined;
    this.#reject = undefined;
    this.#promise = undefined;
    if (this.#signal !== undefined) {
      this.#signal.removeEventListener("abort", this.#onAbort as () => void);
      this.#signal = undefined;
    }
  }
}
