import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

/** A parsed manifest: nested YAML maps and lists, read by the checks below. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- manifests are untyped YAML; the tests assert their shape
export type Manifest = Record<string, any>;

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** `<<` merge keys applied, as docker compose applies them. */
export function readYamlDocuments(path: string): Manifest[] {
  return parseAllDocuments(readFileSync(join(repoRoot, path), 'utf8'), { merge: true }).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0].message}`);
    return doc.toJS() as Manifest;
  });
}

/** Every manifest a kustomization pulls in, following nested kustomizations. */
export function kustomize(dir: string): { path: string; doc: Manifest }[] {
  const [kustomization] = readYamlDocuments(join(dir, 'kustomization.yaml'));
  const out: { path: string; doc: Manifest }[] = [];
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
