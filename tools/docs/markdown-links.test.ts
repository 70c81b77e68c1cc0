import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { headingAnchors, localLinks } from './markdown-links.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Every markdown file of the repository, outside what npm and the build make. */
function markdownFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (name.startsWith('.') || name === 'node_modules' || name === 'dist') return [];
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return markdownFiles(path);
    return name.endsWith('.md') ? [path] : [];
  });
}

describe('localLinks', () => {
  it('reads relative links with their anchors, and leaves out web links and quoted code', () => {
    const markdown = [
      'See [the API](docs/api.md#keys) and [below](#metrics-reference).',
      '[site](https://example.com/a.md) [mail](mailto:ops@example.com)',
      'Code: `[x](not-a-link.md)`',
      '```md',
      '[y](also-not.md)',
      '```',
      '[ops](../docs/operations.md "Operations")',
    ].join('\n');
    expect(localLinks(markdown)).toEqual([
      { line: 1, target: 'docs/api.md', anchor: 'keys' },
      { line: 1, target: '', anchor: 'metrics-reference' },
      { line: 7, target: '../docs/operations.md', anchor: undefined },
    ]);
  });
});

describe('headingAnchors', () => {
  it("gives GitHub's anchors: lower case, punctuation dropped, repeats numbered", () => {
    const markdown = ['# Many keys (issue 3)', '## The key view (`key-view`)', '### Auth', '### Auth', '```', '# not a heading', '```'].join('\n');
    expect([...headingAnchors(markdown)]).toEqual(['many-keys-issue-3', 'the-key-view-key-view', 'auth', 'auth-1']);
  });
});

describe('the repository’s markdown', () => {
  const files = markdownFiles(root);

  it('finds the READMEs and docs', () => {
    const names = files.map((file) => relative(root, file));
    expect(names).toEqual(expect.arrayContaining(['README.md', 'docs/api.md', 'docs/operations.md', 'apps/gateway/README.md']));
  });

  it.each(files.map((file) => [relative(root, file), file]))('%s links only to files and headings that exist', (_name, file) => {
    const broken = localLinks(readFileSync(file, 'utf8')).flatMap(({ line, target, anchor }) => {
      const path = target === '' ? file : resolve(dirname(file), target);
      if (!existsSync(path)) return [`line ${line}: ${target} does not exist`];
      if (anchor === undefined || statSync(path).isDirectory()) return [];
      return headingAnchors(readFileSync(path, 'utf8')).has(anchor) ? [] : [`line ${line}: ${target || 'this file'} has no heading #${anchor}`];
    });
    expect(broken).toEqual([]);
  });
});
