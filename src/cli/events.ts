// `celeriac events`: a live terminal view of workers, tasks/s and per-task counts and latencies; `--dump` prints
// every event as it arrives (as `celery events --dump`), `--json` one JSON object per line.

import { stringifyJson } from '../../protocol';
import { EventReceiver, type ReceivedEvent } from '../events/receiver';
import { EventsState, renderState } from '../events/state';
import { appFromFlags, loggerFromFlags, type AppFlags } from './common';

export interface EventsFlags extends AppFlags {
  dump?: boolean;
  json?: boolean;
  /** Seconds between redraws of the live view (default 1). */
  freq?: number;
  /** Stop after this many seconds (default: until Ctrl-C). */
  duration?: number;
}

function dumpLine(e: ReceivedEvent): string {
  const { type, hostname, timestamp, ...rest } = e;
  delete (rest as Record<string, unknown>).local_received;
  const when = typeof timestamp === 'number' ? new Date(timestamp * 1000).toISOString() : '?';
  const fields = Object.entries(rest)
    .filter(([k]) => !['utcoffset', 'pid', 'clock'].includes(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : stringifyJson(v)}`)
    .join(', ');
  return `${hostname} [${when}] ${type}: ${fields}`;
}

export async function runEvents(flags: EventsFlags): Promise<number> {
  const logger = loggerFromFlags(flags);
  const app = appFromFlags(flags, logger);
  const state = new EventsState();
  const live = !flags.dump && !flags.json;
  const tty = process.stdout.isTTY;
  const receiver = new EventReceiver(app.conf, (e) => {
    if (flags.json) process.stdout.write(`${stringifyJson(e)}\n`);
    else if (flags.dump) process.stdout.write(`${dumpLine(e)}\n`);
    else state.event(e);
  }, logger);
  await receiver.start();
  if (flags.dump || flags.json) process.stderr.write(`-> celeriac events: listening on ${app.broker.displayUrl}\n`);
  let timer: NodeJS.Timeout | undefined;
  const draw = (): void => {
    const text = renderState(state);
    // A terminal gets the view redrawn in place; a pipe gets one frame after another.
    process.stdout.write(tty ? `\x1b[H\x1b[2J${text}\n` : `${text}\n\n`);
  };
  if (live) {
    draw();
    timer = setInterval(draw, (flags.freq ?? 1) * 1000);
  }
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (flags.duration !== undefined) setTimeout(stop, flags.duration * 1000);
  });
  if (timer) clearInterval(timer);
  if (live) draw();
  await receiver.close();
  return 0;
}
