// Cancellation of one task run, allocation-free until someone asks for an AbortSignal.

/**
 * Cancellation of one task run (soft limit, hard limit, revoke --terminate, cold shutdown). An AbortController
 * is made only if someone asks for `signal`: most tasks never do, and one per task showed up in profiles.
 */
export class TaskCancel {
  private controller: AbortController | undefined;
  private listeners: Array<(reason: unknown) => void> | undefined;
  aborted = false;
  reason: unknown;

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
    const listeners = this.listeners;
    this.listeners = undefined;
    if (listeners) for (const fn of listeners) fn(reason);
  }

  /** Be told once when the run is cancelled (at once if it already is). */
  onAbort(fn: (reason: unknown) => void): void {
    if (this.aborted) fn(this.reason);
    else (this.listeners ??= []).push(fn);
  }
}
