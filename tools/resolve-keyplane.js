import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const alias = /^@keyplane\/([a-z-]+)$/;

export async function resolve(specifier, context, next) {
  const match = alias.exec(specifier);
  if (match) {
    return next(pathToFileURL(join(dist, 'libs', match[1], 'src', 'index.js')).href, context);
  }
  return next(specifier, context);
}
