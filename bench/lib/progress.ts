// Progress on stderr while the benchmark runs: one rewritten line on a terminal, one line per step otherwise.

export class Progress {
  private current = 0;
  private label = '';
  private lastDraw = 0;
  private readonly tty = !!process.stderr.isTTY;
  private readonly started = Date.now();

  constructor(private total: number) {}

  setTotal(total: number): void {
    this.total = total;
  }

  step(label: string): void {
    this.current++;
    this.label = label;
    if (this.tty) this.draw('');
    else process.stderr.write(`${this.prefix()} ${label}\n`);
  }

  /** Live detail (e.g. results stored so far); drawn at most 5 times a second. */
  detail(text: string): void {
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.lastDraw < 200) return;
    this.lastDraw = now;
    this.draw(text);
  }

  /** A permanent line (warnings), printed above the progress line. */
  log(line: string): void {
    if (this.tty) process.stderr.write('\r\x1b[K');
    process.stderr.write(`${line}\n`);
    if (this.tty && this.label) this.draw('');
  }

  done(): void {
    if (this.tty) process.stderr.write('\r\x1b[K');
    process.stderr.write(`benchmark finished in ${((Date.now() - this.started) / 1000).toFixed(0)} s\n`);
  }

  private prefix(): string {
    const pct = this.total ? Math.floor((100 * (this.current - 1)) / this.total) : 0;
    const el = Math.round((Date.now() - this.started) / 1000);
    return `[${String(this.current).padStart(String(this.total).length)}/${this.total} ${String(pct).padStart(2)}% ${el}s]`;
  }

  private draw(detail: string): void {
    const line = `${this.prefix()} ${this.label}${detail ? ` — ${detail}` : ''}`;
    const width = process.stderr.columns || 120;
    process.stderr.write(`\r\x1b[K${line.slice(0, width - 1)}`);
  }
}
