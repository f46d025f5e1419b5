// Jest: TypeScript through ts-jest (transpile only; `npm run typecheck` does the type checking).
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  moduleNameMapper: { '^celeriac$': '<rootDir>/src/index.ts' },
  testTimeout: 60000,
  // One test file at a time: the suites share one RabbitMQ and one Redis, and the chaos suite restarts RabbitMQ's
  // app and kills connections (the 2-core CI machine runs one worker anyway).
  maxWorkers: 1,
};
