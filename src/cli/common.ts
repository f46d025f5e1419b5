// Shared CLI plumbing: building the app from -A/-b/--result-backend, and turning known errors into one clear line.

import { Celery } from '../app';
import { ConfigurationError } from '../config';
import { BrokerConnectionError, NoResultBackend } from '../errors';
import { createLogger, type Logger } from '../log';
import { maskSecrets } from '../url';
import { AppNotFound, loadApp } from './loader';

export interface AppFlags {
  app?: string;
  config?: string;
  broker?: string;
  resultBackend?: string;
  loglevel?: string;
  logfile?: string;
  logFormat?: string;
}

/** The app from `-A`, or a bare one; command-line URLs win over the module's settings and the environment. */
export function appFromFlags(flags: AppFlags, logger: Logger): Celery {
  const app = flags.app ? loadApp(flags.app) : new Celery();
  if (flags.config) app.configFromObject(loadConfigFile(flags.config));
  if (flags.broker) app.conf.brokerUrl = flags.broker;
  if (flags.resultBackend) app.conf.resultBackend = flags.resultBackend;
  app.logger = logger;
  return app;
}

/** A config file: JSON, or a .js/.ts module exporting the settings (Celery's names, snake_case or camelCase). */
export function loadConfigFile(file: string): Record<string, unknown> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const path = require('node:path') as typeof import('node:path');
  const full = path.resolve(file);
  let loaded: unknown;
  try {
    if (/\.json$/i.test(full)) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      loaded = JSON.parse((require('node:fs') as typeof import('node:fs')).readFileSync(full, 'utf8'));
    } else {
      if (/\.[cm]?ts$/.test(full)) (require('tsx/cjs/api') as { register: () => void }).register();
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const mod = require(full) as { default?: unknown };
      loaded = mod.default ?? mod;
    }
  } catch (err) {
    throw new ConfigurationError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  if (!loaded || typeof loaded !== 'object' || Array.isArray(loaded)) throw new ConfigurationError(`config file ${file} must hold an object of settings`);
  return loaded as Record<string, unknown>;
}

export function loggerFromFlags(flags: AppFlags, fallbackLevel = 'warning'): Logger {
  let write: ((line: string) => void) | undefined;
  if (flags.logfile) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fs = require('node:fs') as typeof import('node:fs');
    const fd = fs.openSync(flags.logfile, 'a');
    write = (line) => fs.writeSync(fd, `${line}\n`);
  }
  return createLogger({ level: flags.loglevel ?? fallbackLevel, write, json: flags.logFormat === 'json', name: 'celeriac' });
}

/** Errors a user can act on get one line and exit 1; anything else shows its stack. */
export function reportFatal(err: unknown): number {
  const known = err instanceof BrokerConnectionError || err instanceof AppNotFound || err instanceof ConfigurationError || err instanceof NoResultBackend;
  const text = err instanceof Error ? (known ? err.message : (err.stack ?? err.message)) : String(err);
  process.stderr.write(`error: ${maskSecrets(text)}\n`);
  return 1;
}

/** Parse a JSON command-line value with a message that names the flag. */
export function parseJsonFlag<T>(name: string, value: string | undefined, fallback: T): T {
  if (value === undefined) return fallback;
  try {
    return JSON.parse(value) as T;
  } catch (err) {
    throw new ConfigurationError(`--${name} is not valid JSON (${(err as Error).message}): ${value}`);
  }
}
