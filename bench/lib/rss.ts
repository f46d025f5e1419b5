// Peak memory of a worker: every 100 ms, the sum of VmRSS over its process group (prefork children included),
// plus the main process's own VmHWM at the end.

import * as fs from 'node:fs';

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Pids whose process group is `pgid` (field 5 of /proc/<pid>/stat, after the parenthesised name). */
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) out.push(Number(entry));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

export class RssSampler {
  private timer: NodeJS.Timeout | undefined;
  private members: number[] = [];
  private ticks = 0;
  peakKb = 0;
  mainHwmKb = 0;

  constructor(private readonly pid: number) {}

  start(intervalMs = 100): this {
    const sample = (): void => {
      // Refresh the member list every 5 samples (process creation is rare once a worker runs).
      if (this.ticks++ % 5 === 0) this.members = groupMembers(this.pid);
      let sum = 0;
      for (const p of this.members) sum += statusKb(p, 'VmRSS');
      if (sum > this.peakKb) this.peakKb = sum;
      const hwm = statusKb(this.pid, 'VmHWM');
      if (hwm > this.mainHwmKb) this.mainHwmKb = hwm;
    };
    sample();
    this.timer = setInterval(sample, intervalMs);
    return this;
  }

  /** Stop sampling; returns the peak group RSS in MB. */
  stop(): number {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    return Math.max(this.peakKb, this.mainHwmKb) / 1024;
  }
}
