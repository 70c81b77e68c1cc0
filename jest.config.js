import { readdirSync, existsSync } from 'node:fs';

// Every app and lib with its own jest.config.js is a project; `npm test` runs them all.
const projects = ['apps', 'libs'].flatMap((dir) =>
  readdirSync(dir)
    .filter((name) => existsSync(`${dir}/${name}/jest.config.js`))
    .map((name) => `<rootDir>/${dir}/${name}/jest.config.js`),
).concat('<rootDir>/infra/jest.config.js', '<rootDir>/tools/jest.config.js');

// testTimeout is read from this top-level config only: Jest ignores it in a project's config.
// Tests start real services, and on a slow day one can take several times its usual 1–3 s.
// Under --experimental-vm-modules a worker keeps every file's module graph: by the end of a run
// each held 1.1 GB of heap and took 1.1 s to exit, past Jest's 500 ms, so Jest killed it and
// warned of a leak, though no handle was left open. A worker past 300 MB after a file is
// replaced instead: the last ones exit in 0.15–0.25 s, and the run takes no longer.
export default { projects, maxWorkers: 2, testTimeout: 30000, workerIdleMemoryLimit: '300MB' };
