// Shared by every project's jest.config.js. Nest 12 ships ESM only, so tests run as ESM
// (npm test sets --experimental-vm-modules) and SWC keeps decorator metadata for Nest's DI.
import { fileURLToPath } from 'node:url';
import { dirname } from 'node:path';

const root = dirname(fileURLToPath(import.meta.url));

/** `name` is the project's display name; `dir` its folder when it is not apps/<name> or libs/<name>. */
export function projectConfig(name, dir) {
  return {
    displayName: name,
    rootDir: `${root}/${dir ?? (name.startsWith('lib-') ? 'libs/' + name.slice(4) : 'apps/' + name)}`,
    testEnvironment: 'node',
    testMatch: ['<rootDir>/**/*.test.ts'],
    extensionsToTreatAsEsm: ['.ts'],
    transform: {
      '^.+\\.ts$': [
        '@swc/jest',
        {
          jsc: {
            parser: { syntax: 'typescript', decorators: true },
            transform: { legacyDecorator: true, decoratorMetadata: true },
            target: 'es2022',
          },
          module: { type: 'es6' },
        },
      ],
    },
    moduleNameMapper: {
      '^@keyplane/([a-z-]+)$': `${root}/libs/$1/src/index.ts`,
      '^(\\.{1,2}/.*)\\.js$': '$1',
    },
  };
}
