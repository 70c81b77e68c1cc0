import { readdirSync, existsSync } from 'node:fs';

// Every app and lib with its own jest.config.js is a project; `npm test` runs them all.
const projects = ['apps', 'libs'].flatMap((dir) =>
  readdirSync(dir)
    .filter((name) => existsSync(`${dir}/${name}/jest.config.js`))
    .map((name) => `<rootDir>/${dir}/${name}/jest.config.js`),
).concat('<rootDir>/infra/jest.config.js');

// testTimeout is read from this top-level config only: Jest ignores it in a project's config.
// Tests start real services, and on a slow day one can take several times its usual 1–3 s.
export default { projects, maxWorkers: 2, testTimeout: 30000 };
