import { readdirSync, existsSync } from 'node:fs';

// Every app and lib with its own jest.config.js is a project; `npm test` runs them all.
const projects = ['apps', 'libs'].flatMap((dir) =>
  readdirSync(dir)
    .filter((name) => existsSync(`${dir}/${name}/jest.config.js`))
    .map((name) => `<rootDir>/${dir}/${name}/jest.config.js`),
).concat('<rootDir>/infra/jest.config.js');

export default { projects, maxWorkers: 2 };
