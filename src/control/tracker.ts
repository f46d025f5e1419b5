// Knows which received requests have not started yet (reserved, or held for their ETA) and which have finished,
// from the worker's lifecycle notifications — what `inspect reserved/scheduled/query_task` and the metrics read.

import type { TaskLifecycleListener } from '../worker/hooks';
import type { Request } from '../worker/request';

export class RequestTracker implements TaskLifecycleListener {
  /** Received, not started, not discarded: prefetched or waiting for an ETA or a rate limit. */
  readonly waiting = new Map<string, Request>();

  received(request: Request): void {
    this.waiting.set(request.id, request);
  }

  started(request: Request): void {
    this.waiting.delete(request.id);
  }

  revoked(request: Request): void {
    this.waiting.delete(request.id);
  }

  rejected(request: Request): void {
    this.waiting.delete(request.id);
  }

  failed(request: Request): void {
    this.waiting.delete(request.id);
  }

  succeeded(request: Request): void {
    this.waiting.delete(request.id);
  }

  retried(request: Request): void {
    this.waiting.delete(request.id);
  }

  /**
   * Drop requests the worker let go of without a notification: settled before they started (returned to the queue
   * on shutdown, or re-published for a far-future ETA). A request that runs is settled only after it started.
   */
  private prune(): void {
    for (const [id, r] of this.waiting) if (r.isSettled && r.startedAt === 0) this.waiting.delete(id);
  }

  /** Held until a future ETA. */
  scheduled(now = Date.now()): Request[] {
    this.prune();
    return [...this.waiting.values()].filter((r) => r.etaMs !== null && r.etaMs > now);
  }

  /** Due and waiting for a free slot (or a rate limit token). */
  reserved(now = Date.now()): Request[] {
    this.prune();
    return [...this.waiting.values()].filter((r) => r.etaMs === null || r.etaMs <= now);
  }
}
