// The wire contract as pure code: task messages, Redis envelopes, Celery JSON, result meta, exception info.

export * from './json';
export * from './errors';
export * from './message';
export * from './envelope';
export * from './result';
export * from './exceptions';
export * from './signature';
export * from './time';
export * from './repr';
export * from './compression';
