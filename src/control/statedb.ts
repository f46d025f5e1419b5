// `--statedb <file>`: the worker's persistent state (revoked ids with their age, and the logical clock) as JSON,
// loaded at start and written on every change (debounced) and at shutdown. Not compatible with Celery's shelve file.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LamportClock } from '../events/clock';
import { silentLogger, type Logger } from '../log';
import type { LimitedSet } from './limited-set';

interface StateFile {
  format: 'celeriac-statedb';
  version: 1;
  clock: number;
  /** [id, inserted at (epoch seconds)], oldest first. */
  revoked: Array<[string, number]>;
}

export class StateDb {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly file: string,
    private readonly revoked: LimitedSet,
    private readonly clock: LamportClock,
    private readonly logger: Logger = silentLogger,
  ) {}

  /** Read the file if it exists; a damaged file is reported and ignored (the worker still starts). */
  load(): number {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
    try {
      const state = JSON.parse(text) as StateFile;
      if (state.format !== 'celeriac-statedb') throw new Error('not a celeriac state file (Celery\'s shelve files cannot be read)');
      for (const [id, at] of state.revoked ?? []) this.revoked.add(String(id), Number(at));
      this.revoked.purge();
      this.clock.adjust(state.clock ?? 0);
      return this.revoked.size;
    } catch (err) {
      this.logger.error(`statedb ${this.file}: ${(err as Error).message}; starting with an empty state`);
      return 0;
    }
  }

  /** Write soon (several revokes in a burst make one write). */
  changed(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.save();
    }, 100);
    this.timer.unref();
  }

  /** Write now, atomically (temp file + rename). */
  save(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.revoked.purge();
    const state: StateFile = { format: 'celeriac-statedb', version: 1, clock: this.clock.value, revoked: this.revoked.entries() };
    const tmp = path.join(path.dirname(this.file), `.${path.basename(this.file)}.${process.pid}.tmp`);
    try {
      fs.writeFileSync(tmp, JSON.stringify(state));
      fs.renameSync(tmp, this.file);
    } catch (err) {
      this.logger.error(`statedb ${this.file}: cannot write: ${(err as Error).message}`);
    }
  }
}
