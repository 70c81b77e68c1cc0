/** A link of a markdown file to another file of the repository, and the heading it names, if any. */
export interface LocalLink {
  line: number;
  target: string;
  anchor: string | undefined;
}

/** Blanks fenced code blocks out, keeping their lines: what they quote is neither link nor heading. */
const withoutCodeBlocks = (markdown: string) => markdown.replace(/^```[\s\S]*?^```/gm, (block) => block.replace(/[^\n]/g, ' '));

/** ...and code spans too: a link shape inside one is not a link. */
const withoutCode = (markdown: string) => withoutCodeBlocks(markdown).replace(/`[^`\n]*`/g, (span) => ' '.repeat(span.length));

/** Inline links that stay in the repository: no scheme, no mail address. */
export function localLinks(markdown: string): LocalLink[] {
  const text = withoutCode(markdown);
  const links: LocalLink[] = [];
  for (const match of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    const href = match[1]!;
    if (/^[a-z][a-z0-9+.-]*:/i.test(href)) continue;
    const [target = '', anchor] = href.split('#', 2);
    links.push({ line: text.slice(0, match.index).split('\n').length, target, anchor });
  }
  return links;
}

/**
 * The anchors GitHub gives a file's headings: lower case, punctuation dropped, spaces as
 * hyphens, and `-1`, `-2`… after a repeated one.
 */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const match of withoutCodeBlocks(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = match[1]!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}
