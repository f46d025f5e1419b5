// Locating things: the repository root, and how to start one of the bench's own scripts in a child Node process
// (the compiled .js when the harness runs compiled, else the .ts through tsx).

import * as fs from 'node:fs';
import * as path from 'node:path';

/** The directory of celeriac's package.json (the harness may run from bench/ or bench/.build/bench/). */
export function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === 'celeriac') return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the celeriac package root');
    dir = up;
  }
}

/** Node arguments that run bench/<rel> (e.g. "ceiling/consumer"). */
export function nodeScript(rel: string): string[] {
  const benchDir = path.resolve(__dirname, '..');
  return __filename.endsWith('.js') ? [path.join(benchDir, `${rel}.js`)] : ['-r', 'tsx/cjs', path.join(benchDir, `${rel}.ts`)];
}
