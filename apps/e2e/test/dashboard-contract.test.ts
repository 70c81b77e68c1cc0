import { createContext, runInContext } from 'node:vm';
import { startStack, type Stack } from './stack.js';

// The dashboard as a person uses it (gateway README, DESIGN §1 and §4), without a browser: the
// page is fetched from a real gateway, its script is run against a small stand-in for the DOM,
// and its fetches go to that gateway (or, for failures a healthy stack cannot produce, to a
// stand-in answer). Browser-level checks (layout at 400 px, CSP, no console errors) were made
// by hand in Chromium; what they found is asserted here on the HTML.

let stack: Stack;
let html: string;
let script: string;
let reader: string;

beforeAll(async () => {
  stack = await startStack('e2e_dashboard_contract');
  html = await (await fetch(`${stack.gateway.url}/`)).text();
  script = /<script type="module">([\s\S]*?)<\/script>/.exec(html)![1]!;
  reader = (await stack.createKey({ name: 'reader', permissions: ['KEYS:READ'] })).key;
  await stack.createKey({ name: '<img src=x onerror=alert(1)>', permissions: ['FLOWS:READ'], expiresAt: '2099-01-02T03:04:05.000Z' });
  const revoked = await stack.createKey({ name: 'gone', permissions: ['FLOWS:READ'] });
  await stack.call('POST', `/v1/api-keys/${revoked.id}/revoke`);
});

afterAll(() => stack?.close());

/** Just enough of an element for the page's script: text, children, a class, attributes it sets. */
class FakeElement {
  children: (FakeElement | string)[] = [];
  className = '';
  hidden = false;
  disabled = false;
  value = '';
  dateTime = '';
  title = '';
  listeners: Record<string, (event: unknown) => Promise<void>> = {};
  tBodies: FakeElement[] = [];
  constructor(readonly tag: string) {}
  get textContent(): string {
    return this.children.map((child) => (typeof child === 'string' ? child : child.textContent)).join('');
  }
  set textContent(text: string) {
    this.children = [text];
  }
  append(...items: (FakeElement | string)[]) {
    this.children.push(...items);
  }
  replaceChildren(...items: FakeElement[]) {
    this.children = items;
  }
  addEventListener(type: string, listener: (event: unknown) => Promise<void>) {
    this.listeners[type] = listener;
  }
  querySelector(tag: string) {
    return this.children.find((child): child is FakeElement => typeof child !== 'string' && child.tag === tag);
  }
}

type Fetch = (url: string, init: { headers: Record<string, string> }) => Promise<Response>;

/** The page as loaded: its script running over its form, message, status and table. */
function loadPage(fetchFn: Fetch) {
  const elements = {
    login: new FakeElement('form'),
    key: new FakeElement('input'),
    message: new FakeElement('p'),
    status: new FakeElement('p'),
    keys: new FakeElement('table'),
  };
  const button = new FakeElement('button');
  elements.login.append(elements.key, button);
  elements.keys.tBodies = [new FakeElement('tbody')];
  elements.keys.hidden = true;
  const document = { getElementById: (id: keyof typeof elements) => elements[id], createElement: (tag: string) => new FakeElement(tag) };
  // A reader with an American locale on UTC, whatever this machine's settings.
  const readerIntl = {
    DateTimeFormat: function DateTimeFormat(_locale: unknown, options: Intl.DateTimeFormatOptions) {
      return new Intl.DateTimeFormat('en-US', { ...options, timeZone: 'UTC' });
    },
  };
  runInContext(script, createContext({ document, fetch: fetchFn, URLSearchParams, Intl: readerIntl }));
  const rows = () =>
    elements.keys.tBodies[0]!.children.map((tr) => (tr as FakeElement).children.map((td) => td as FakeElement));
  return {
    ...elements,
    button,
    rows,
    /** Types the key and presses Enter; resolves when the page has finished with the answer. */
    submit(key: string) {
      elements.key.value = key;
      return elements.login.listeners.submit!({ preventDefault: () => undefined });
    },
  };
}

const toGateway: Fetch = (url, init) => fetch(`${stack.gateway.url}${url}`, init);

describe('the key list', () => {
  it('shows each key with its expiry and last use, dates with a month name and a time zone, and how many keys in which account', async () => {
    const page = loadPage(toGateway);
    await page.submit(reader);
    expect({ message: page.message.textContent, status: page.status.textContent, hidden: page.keys.hidden }).toEqual({ message: '', status: '4 keys in account acc_root', hidden: false });
    const [gone, markup, readerRow, admin] = page.rows();
    expect(markup!.map((td) => td.textContent)).toEqual([
      '<img src=x onerror=alert(1)>',
      expect.stringMatching(/^key_[0-9A-Z]{26}$/),
      expect.stringMatching(/^tv_live_[0-9A-Za-z]{4}…[0-9A-Za-z]{4}$/),
      'live',
      'FLOWS:READ',
      'active',
      expect.stringMatching(/^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{2}:\d{2} [AP]M UTC$/),
      'Jan 2, 2099, 03:04 AM UTC',
      '—',
    ]);
    // The exact instant stays at hand (hover), whatever the reader's locale shows.
    expect(markup![7]!.children[0]).toMatchObject({ tag: 'time', dateTime: '2099-01-02T03:04:05.000Z', title: '2099-01-02T03:04:05.000Z' });
    expect({ name: gone![0]!.textContent, status: gone![5]!.textContent, rowClass: (page.keys.tBodies[0]!.children[0] as FakeElement).className }).toEqual({ name: 'gone', status: 'revoked', rowClass: 'revoked' });
    expect([readerRow![0]!.textContent, admin![0]!.textContent]).toEqual(['reader', 'bootstrap admin']);
    expect(page.button.disabled).toBe(false);
  });

  it('shows nothing of the previous list while the next one loads, and takes one listing at a time', async () => {
    let calls = 0;
    let release!: (response: Response) => void;
    const page = loadPage((url, init) => (calls++ === 0 ? toGateway(url, init) : new Promise((resolve) => (release = resolve))));
    await page.submit(reader);
    expect(page.keys.hidden).toBe(false);
    const second = page.submit(reader);
    expect({ disabled: page.button.disabled, hidden: page.keys.hidden, status: page.status.textContent }).toEqual({ disabled: true, hidden: true, status: 'Loading…' });
    release(Response.json({ data: [], nextCursor: null }));
    await second;
    expect({ disabled: page.button.disabled, status: page.status.textContent }).toEqual({ disabled: false, status: 'No keys' });
  });

  it('says so when there are no keys, instead of an empty table', async () => {
    const page = loadPage(async () => Response.json({ data: [], nextCursor: null }));
    await page.submit(reader);
    expect({ message: page.message.textContent, status: page.status.textContent, hidden: page.keys.hidden }).toEqual({ message: '', status: 'No keys', hidden: true });
  });
});

describe('what goes wrong is said in words', () => {
  it.each([
    ['a revoked key', 'Unauthorized: API key has been revoked', async () => {
      const revoked = await stack.createKey({ name: 'revoked reader', permissions: ['KEYS:READ'] });
      await stack.call('POST', `/v1/api-keys/${revoked.id}/revoke`);
      return revoked.key;
    }],
    ['a key without KEYS:READ', 'Forbidden: Missing required permission: KEYS:READ', async () => (await stack.createKey({ name: 'f', permissions: ['FLOWS:READ'] })).key],
    ['garbage', 'Unauthorized: Invalid or missing API key', async () => 'hello'],
  ])("%s: the gateway's own error, and the previous key's list no longer shown", async (_label, expected, makeKey) => {
    const key = await makeKey();
    const page = loadPage(toGateway);
    await page.submit(reader);
    await page.submit(key);
    expect({ message: page.message.textContent, status: page.status.textContent, hidden: page.keys.hidden }).toEqual({ message: expected, status: '', hidden: true });
  });

  it.each([
    ['an HTML page from a proxy', async () => new Response('<html>Bad gateway</html>', { status: 502, headers: { 'content-type': 'text/html' } }), 'The gateway answered 502 without an error body'],
    ['JSON that is no error body', async () => Response.json({ message: 'x' }, { status: 500 }), 'The gateway answered 500 without an error body'],
    ['a 200 without a list', async () => Response.json({ items: [] }), 'The gateway answered without a list of keys'],
    ['no answer at all', () => Promise.reject(new TypeError('Failed to fetch')), 'The gateway could not be reached: check the connection and try again'],
  ])('%s', async (_label, answer, expected) => {
    const page = loadPage(answer);
    await page.submit(reader);
    expect({ message: page.message.textContent, status: page.status.textContent, hidden: page.keys.hidden, disabled: page.button.disabled }).toEqual({ message: expected, status: '', hidden: true, disabled: false });
  });
});

describe('the page itself', () => {
  it('asks for a key with KEYS:READ and sends no empty key', () => {
    const input = /<input[^>]*id="key"[^>]*>/.exec(html)![0];
    expect(input).toMatch(/\srequired[\s/]/);
    expect(input).toMatch(/placeholder="API key with KEYS:READ"/);
  });

  it('asks the gateway for nothing but itself and the key list: its icon is inline, and the CSP allows it', async () => {
    expect(html).toContain('<link rel="icon" href="data:," />');
    const csp = (await fetch(`${stack.gateway.url}/`)).headers.get('content-security-policy');
    expect(csp).toMatch(/; img-src data:;/);
  });

  it('keeps a long name from widening the page past a narrow window: names wrap, the table scrolls in its own box', () => {
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!;
    expect(html).toMatch(/<div class="scroll">\s*<table hidden id="keys">/);
    expect(style).toMatch(/\.scroll \{ overflow-x: auto; \}/);
    expect(style).toMatch(/td\.name \{[^}]*overflow-wrap: anywhere;/);
    expect(script).toContain("cell(key.name, 'name')");
  });
});
