import { existsSync } from 'node:fs';

/**
 * Files shipped beside the code (`config/`, `public/`). From source they sit one level above
 * `src/`; a build runs from `dist/apps/gateway/src/`, which holds only compiled code, so
 * there the files are read from the repository's `apps/gateway/`.
 */
export function assetPath(relative: string): URL {
  const beside = new URL(`../../${relative}`, import.meta.url);
  if (existsSync(beside)) return beside;
  return new URL(`../../../../../apps/gateway/${relative}`, import.meta.url);
}
