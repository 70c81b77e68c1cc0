import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { assetPath } from '../assets/asset-path.js';

export interface Dashboard {
  html: string;
  headers: Record<string, string>;
}

/**
 * The dashboard is one static page; it is read once and served from memory, unauthenticated.
 * It takes an admin key, so it may run only its own inline script and style (allowed by their
 * hashes, computed here), show only data: images (its empty icon), talk only to this origin,
 * and never be framed by another site.
 */
export function loadDashboard(): Dashboard {
  const html = readFileSync(assetPath('public/index.html'), 'utf8');
  const csp = [
    "default-src 'none'",
    `script-src ${inlineHashes(html, 'script')}`,
    `style-src ${inlineHashes(html, 'style')}`,
    // For the page's empty icon: a data: image makes no request, so it can carry nothing away.
    'img-src data:',
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return {
    html,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': csp,
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-cache',
    },
  };
}

/** `'sha256-…'` of each inline `<tag>` element's text, as CSP hashes it. */
function inlineHashes(html: string, tag: 'script' | 'style'): string {
  const hashes = [...html.matchAll(new RegExp(`<${tag}\\b[^>]*>([\\s\\S]*?)</${tag}>`, 'g'))].map(
    ([, text]) => `'sha256-${createHash('sha256').update(text!).digest('base64')}'`,
  );
  return hashes.length > 0 ? hashes.join(' ') : "'none'";
}
