import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function readYamlDocuments(path: string): Record<string, any>[] {
  return parseAllDocuments(readFileSync(join(repoRoot, path), 'utf8')).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0].message}`);
    return doc.toJS() as Record<string, any>;
  });
}

/** Every manifest a kustomization pulls in, following nested kustomizations. */
export function kustomize(dir: string): { path: string; doc: Record<string, any> }[] {
  const [kustomization] = readYamlDocuments(join(dir, 'kustomization.yaml'));
  const out: { path: string; doc: Record<string, any> }[] = [];
  for (const entry of kustomization.resources ?? []) {
    const path = join(dir, entry);
    if (existsSync(join(repoRoot, path, 'kustomization.yaml'))) out.push(...kustomize(path));
    else out.push(...readYamlDocuments(path).map((doc) => ({ path, doc })));
  }
  return out;
}

/** The source file a container command `dist/apps/<x>/src/main.js` is built from. */
export function sourceOf(distMain: string): string {
  return join(repoRoot, distMain.replace(/^dist\//, '').replace(/\.js$/, '.ts'));
}
