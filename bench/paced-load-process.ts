import { runPacedLoad, type PacedLoadOptions } from './paced-load.js';

// One paced load in a process of its own (`runPacedLoadApart`): its options as JSON in the first
// argument, its result as JSON on stdout.
const options = JSON.parse(process.argv[2]!) as PacedLoadOptions;
process.stdout.write(JSON.stringify(await runPacedLoad(options)));
