// When a received task may run: ETA/countdown messages are held (unacked, prefetch raised, as Celery) on one
// scheduler; far-future ETAs on AMQP are re-published before RabbitMQ's consumer_timeout would close the channel;
// rate-limited task types wait for a token. Nothing here drops or fails a task.

import type { Logger } from '../log';
import { parseRate, TokenBucket } from './ratelimit';
import type { Request } from './request';
import { Scheduler, type Scheduled } from './scheduler';

export interface AdmissionOptions {
  logger: Logger;
  /** The request may run now (the worker checks revocation and queues it for a slot). */
  onDue(request: Request): void;
  /** Messages held here beyond the base prefetch changed (ETA holds, rate-limit waits). */
  onHeldChange(extra: number): void;
  /** Rate for a task name in tasks/second, or null for none (read on every admission: control may change it). */
  rateFor(name: string): string | number | null | undefined;
  /** Longest a message may be held unacked before it is re-published instead (ms), or null to hold any ETA. */
  maxHoldMs: number | null;
  /** Re-publish a held message and ack the original (far-future ETA on AMQP). */
  republish(request: Request): Promise<void>;
  /** Read a parked request's message back when it is due; false when the broker no longer has it. */
  unpark(request: Request): Promise<boolean>;
}

/** Holds at least this long leave the message to the broker (Request.park) rather than in memory. */
const PARK_AFTER_MS = 2000;
/** A parked message that could not be read back (broker unreachable) is tried again after this long. */
const UNPARK_RETRY_MS = 1000;

/** Rate-limited requests beyond this many do not raise the prefetch further (bounded memory). */
const MAX_RATE_WAITING_PREFETCH = 1000;

interface RateState {
  rate: number;
  bucket: TokenBucket;
  waiting: Request[];
  timer: Scheduled | undefined;
}

export class Admission {
  private readonly scheduler = new Scheduler();
  private readonly held = new Map<Request, Scheduled>();
  /** Due parked requests whose message is being read back. */
  private readonly resuming = new Set<Request>();
  private readonly rates = new Map<string, RateState>();
  private rateWaiting = 0;
  private lastExtra = 0;

  constructor(private readonly o: AdmissionOptions) {}

  /** Requests held for their ETA (for `inspect scheduled`). */
  get scheduled(): Request[] {
    return [...this.held.keys()];
  }

  get heldCount(): number {
    return this.held.size;
  }

  /** Admit a received request: hold it for its ETA, then through its task's rate limit, then run it. */
  admit(request: Request): void {
    const now = Date.now();
    if (request.etaMs !== null && request.etaMs > now) this.hold(request, now);
    else this.throughRateLimit(request);
  }

  private hold(request: Request, now: number, retryAt?: number): void {
    const due = request.etaMs as number;
    const farFuture = this.o.maxHoldMs !== null && due - now > this.o.maxHoldMs;
    const wakeAt = retryAt ?? (farFuture ? now + (this.o.maxHoldMs as number) : due);
    // 10,000 held messages should cost a few MB, not their decoded bodies: where the broker keeps a copy (Redis),
    // a long hold keeps only the request's ids and times. Far-future ones are re-published whole, so stay as they are.
    if (!farFuture && due - now >= PARK_AFTER_MS) request.park();
    const entry = this.scheduler.at(wakeAt, this.wakeHeld, request);
    this.held.set(request, entry);
    this.changed();
  }

  /** A held request's time came: its ETA, or (woken before its ETA) the far-future limit, or an unpark retry. */
  private readonly wakeHeld = (request: Request): void => {
    this.held.delete(request);
    this.changed();
    const due = request.etaMs as number;
    if (request.isParked) this.resume(request);
    else if (due > Date.now()) {
      this.o.logger.info(`Task ${request.label} ETA ${new Date(due).toISOString()} is far off: re-publishing it rather than holding it unacked`);
      this.o.republish(request).catch((err: unknown) => {
        this.o.logger.error(`re-publishing ${request.label} failed (${(err as Error)?.message ?? String(err)}); holding it instead`);
        this.hold(request, Date.now());
      });
    } else this.throughRateLimit(request);
  };

  /** A parked request is due: read its message back, then on as usual. */
  private resume(request: Request): void {
    this.resuming.add(request);
    this.o.unpark(request).then(
      (found) => {
        this.resuming.delete(request);
        if (found && !request.isSettled) this.throughRateLimit(request);
      },
      (err: unknown) => {
        this.resuming.delete(request);
        if (request.isSettled) return;
        this.o.logger.warning(`reading held task ${request.label} back from the broker failed (${(err as Error)?.message ?? String(err)}); trying again in ${UNPARK_RETRY_MS / 1000} s`);
        this.hold(request, Date.now(), Date.now() + UNPARK_RETRY_MS);
      },
    );
  }

  private throughRateLimit(request: Request): void {
    let rate: number | null;
    try {
      rate = parseRate(this.o.rateFor(request.name));
    } catch (err) {
      this.o.logger.warning(`${request.name}: ${(err as Error).message}; running without a rate limit`);
      rate = null;
    }
    if (rate === null) {
      this.o.onDue(request);
      return;
    }
    let state = this.rates.get(request.name);
    if (!state || state.rate !== rate) {
      // A new rate (e.g. from `control rate_limit`) starts a fresh bucket; waiting requests keep their order.
      state = { rate, bucket: new TokenBucket(rate), waiting: state?.waiting ?? [], timer: state?.timer };
      this.rates.set(request.name, state);
    }
    state.waiting.push(request);
    this.rateWaiting++;
    this.changed();
    this.serve(state);
  }

  private serve(state: RateState): void {
    if (state.timer) return;
    while (state.waiting.length > 0) {
      if (!state.bucket.tryConsume()) {
        state.timer = this.scheduler.at(Date.now() + state.bucket.msUntil(), () => {
          state.timer = undefined;
          this.serve(state);
        });
        return;
      }
      const request = state.waiting.shift() as Request;
      this.rateWaiting--;
      this.changed();
      this.o.onDue(request);
    }
  }

  private changed(): void {
    const extra = this.held.size + Math.min(this.rateWaiting, MAX_RATE_WAITING_PREFETCH);
    if (extra !== this.lastExtra) {
      this.lastExtra = extra;
      this.o.onHeldChange(extra);
    }
  }

  /** Take back every held and waiting request (shutdown returns them to the queue). */
  drain(): Request[] {
    const out = [...this.held.keys(), ...this.resuming];
    for (const s of this.rates.values()) out.push(...s.waiting.splice(0));
    this.held.clear();
    this.resuming.clear();
    this.rates.clear();
    this.rateWaiting = 0;
    this.scheduler.clear();
    this.changed();
    return out;
  }
}
