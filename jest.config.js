// Jest: TypeScript through ts-jest (transpile only; `npm run typecheck` does the type checking).
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  moduleNameMapper: { '^celeriac$': '<rootDir>/src/index.ts' },
  testTimeout: 60000,
};
