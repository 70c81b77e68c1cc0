// `npm run build`: what `tsc -p tsconfig.build.json` does, with every output file written whole
// (to a temporary name, then renamed over the old one). Services start from dist/ while another
// build may be rewriting it (tests run `npm start` and the compiled services side by side), and
// a file read halfway through tsc's own truncate-and-write is a module that fails to load.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import ts from 'typescript';

const host = { getCanonicalFileName: (name) => name, getCurrentDirectory: ts.sys.getCurrentDirectory, getNewLine: () => ts.sys.newLine };
const fail = (diagnostics) => {
  process.stderr.write(ts.formatDiagnosticsWithColorAndContext(diagnostics, host));
  process.exit(1);
};

const config = ts.getParsedCommandLineOfConfigFile('tsconfig.build.json', {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (diagnostic) => fail([diagnostic]) });
if (config.errors.length > 0) fail(config.errors);
const program = ts.createProgram({ rootNames: config.fileNames, options: config.options });
const diagnostics = ts.getPreEmitDiagnostics(program);
if (diagnostics.length > 0) fail(diagnostics);

const emitted = program.emit(undefined, (fileName, text) => {
  mkdirSync(dirname(fileName), { recursive: true });
  const partial = `${fileName}.${process.pid}.partial`;
  writeFileSync(partial, text);
  renameSync(partial, fileName);
});
if (emitted.diagnostics.length > 0) fail(emitted.diagnostics);
