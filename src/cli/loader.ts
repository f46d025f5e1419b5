// Loads the `-A` tasks module (.js, or .ts through tsx with no build step) and finds the Celery app it defines.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { Celery } from '../app';

/** Thrown when `-A` names a module that does not exist or defines no app. */
export class AppNotFound extends Error {
  override name = 'AppNotFound';
}

let tsxRegistered = false;

function resolveModule(spec: string, cwd: string): string {
  const base = path.resolve(cwd, spec);
  const candidates = [base, `${base}.ts`, `${base}.js`, `${base}.cjs`, path.join(base, 'index.ts'), path.join(base, 'index.js')];
  // Python style `-A proj.tasks` → proj/tasks
  if (!spec.includes('/') && spec.includes('.') && !/\.(c?js|ts)$/.test(spec)) candidates.push(...[`.ts`, `.js`].map((ext) => path.resolve(cwd, spec.replace(/\./g, '/') + ext)));
  for (const c of candidates) if (fs.existsSync(c) && fs.statSync(c).isFile()) return c;
  throw new AppNotFound(`cannot find the tasks module ${JSON.stringify(spec)} (looked for ${candidates.map((c) => path.relative(cwd, c) || c).join(', ')})`);
}

/** Something shaped like our Celery app (duck-typed: a user's project may hold another copy of celeriac). */
function isApp(v: unknown): v is Celery {
  return v instanceof Celery || (!!v && typeof v === 'object' && typeof (v as Celery).task === 'function' && (v as Celery).tasks instanceof Map && typeof (v as Celery).sendTask === 'function');
}

/** Require the module and return its app: `export const app`, `export default app`, or the only app it exports. */
export function loadApp(spec: string, cwd = process.cwd()): Celery {
  const file = resolveModule(spec, cwd);
  if (/\.[cm]?ts$/.test(file) && !tsxRegistered) {
    // tsx compiles TypeScript on require, so `-A interop/tasks.ts` works without a separate build step.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { register } = require('tsx/cjs/api') as { register: () => () => void };
    register();
    tsxRegistered = true;
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(file) as Record<string, unknown>;
  if (isApp(mod.app)) return mod.app;
  if (isApp(mod.default)) return mod.default;
  if (mod.default && typeof mod.default === 'object' && isApp((mod.default as Record<string, unknown>).app)) return (mod.default as { app: Celery }).app;
  const apps = Object.values(mod).filter(isApp);
  if (apps.length === 1) return apps[0];
  throw new AppNotFound(`${path.relative(cwd, file)} defines no Celery app: export one as \`export const app = new Celery(...)\``);
}
