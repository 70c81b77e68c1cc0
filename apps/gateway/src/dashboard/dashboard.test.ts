import { createHash } from 'node:crypto';
import { loadDashboard } from './dashboard.js';

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

describe('loadDashboard', () => {
  const { html, headers } = loadDashboard();

  it("allows exactly the page's own inline script and style, its data: icon, this origin, and no framing", () => {
    const script = /<script type="module">([\s\S]*?)<\/script>/.exec(html)![1]!;
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!;
    expect(headers['content-security-policy']).toBe(
      `default-src 'none'; script-src ${sha256(script)}; style-src ${sha256(style)}; img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    );
    expect(headers).toMatchObject({ 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer', 'content-type': 'text/html; charset=utf-8' });
  });

  it('keeps the key out of storage and URLs: it goes in the Authorization header only', () => {
    expect(html).not.toMatch(/localStorage|sessionStorage|document\.cookie/);
    expect(html).toContain('headers: { Authorization: `Bearer ${key}` }');
  });
});
