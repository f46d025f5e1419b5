// Worker and client logging: one line per event, Celery-like levels and layout, credentials masked in every line.

import { maskSecrets } from './url';

export type LogLevel = 'debug' | 'info' | 'warning' | 'error' | 'critical';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warning: 30, error: 40, critical: 50 };

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warning(msg: string): void;
  error(msg: string): void;
  critical(msg: string): void;
  isEnabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  level?: LogLevel | string;
  /** Where lines go; defaults to stderr, as Celery's worker logs. */
  write?: (line: string) => void;
  /** One JSON object per line, for log shippers. */
  json?: boolean;
  name?: string;
}

/** Parse a `-l/--loglevel` value (Celery accepts upper or lower case, and `warn`/`fatal`). */
export function parseLogLevel(value: string | undefined): LogLevel {
  const v = (value ?? 'info').toLowerCase();
  if (v === 'warn') return 'warning';
  if (v === 'fatal') return 'critical';
  if (v in ORDER) return v as LogLevel;
  throw new Error(`unknown log level ${JSON.stringify(value)} (use debug, info, warning, error or critical)`);
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const threshold = ORDER[parseLogLevel(options.level)];
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const name = options.name ?? 'celeriac';
  const emit = (level: LogLevel, msg: string): void => {
    if (ORDER[level] < threshold) return;
    const text = maskSecrets(msg);
    const time = new Date().toISOString();
    if (options.json) write(JSON.stringify({ time, level: level.toUpperCase(), name, pid: process.pid, message: text }));
    else write(`[${time.replace('T', ' ').replace('Z', '')}: ${level.toUpperCase()}/${name}] ${text}`);
  };
  return {
    debug: (m) => emit('debug', m),
    info: (m) => emit('info', m),
    warning: (m) => emit('warning', m),
    error: (m) => emit('error', m),
    critical: (m) => emit('critical', m),
    isEnabled: (level) => ORDER[level] >= threshold,
  };
}

/** A logger that drops everything (library use without a worker). */
export const silentLogger: Logger = createLogger({ level: 'critical', write: () => undefined });
