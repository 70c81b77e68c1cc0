import { connect } from 'node:net';

export interface RawAnswer {
  status: number;
  /** Lower-case names; the last of a repeated header wins. */
  headers: Record<string, string>;
  /** The final answer's body, de-chunked, as UTF-8. */
  body: string;
  /** Everything read, interim answers (100 Continue) included, as Latin-1. */
  text: string;
}

/**
 * Writes bytes no HTTP client would send (fetch normalizes paths and refuses odd headers) and
 * reads one answer: until its body is complete, or until the server closes the connection.
 */
export function rawRequest(base: string, request: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(base).port), '127.0.0.1', () => socket.write(request));
    let received = Buffer.alloc(0);
    const finish = () => {
      socket.destroy();
      resolve(parseAnswer(received));
    };
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer within 5 s')));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (parseAnswer(received).complete) finish();
    });
    socket.on('error', reject);
    socket.on('close', finish);
  });
}

function parseAnswer(bytes: Buffer): RawAnswer & { complete: boolean } {
  let start = 0;
  for (;;) {
    const headEnd = bytes.indexOf('\r\n\r\n', start);
    if (headEnd < 0) return { status: 0, headers: {}, body: '', text: bytes.toString('latin1'), complete: false };
    const [statusLine = '', ...lines] = bytes.subarray(start, headEnd).toString('latin1').split('\r\n');
    const status = Number(statusLine.split(' ')[1] ?? 0);
    if (status >= 100 && status < 200) {
      start = headEnd + 4;
      continue;
    }
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const rawBody = bytes.subarray(headEnd + 4);
    const { body, complete } = headers['transfer-encoding'] === 'chunked' ? dechunk(rawBody) : sized(rawBody, headers['content-length']);
    return { status, headers, body: body.toString('utf8'), text: bytes.toString('latin1'), complete };
  }
}

function sized(body: Buffer, contentLength: string | undefined): { body: Buffer; complete: boolean } {
  if (contentLength === undefined) return { body, complete: false };
  const length = Number(contentLength);
  return { body: body.subarray(0, length), complete: body.length >= length };
}

function dechunk(bytes: Buffer): { body: Buffer; complete: boolean } {
  const parts: Buffer[] = [];
  for (let at = 0; ; ) {
    const lineEnd = bytes.indexOf('\r\n', at);
    if (lineEnd < 0) return { body: Buffer.concat(parts), complete: false };
    const size = parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16);
    if (!size) return { body: Buffer.concat(parts), complete: true };
    parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}
