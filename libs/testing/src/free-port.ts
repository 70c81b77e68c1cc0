import { createServer } from 'node:net';

/** Below the kernel's ephemeral range (32768–60999 by default), where every `listen(0)` of the test files running alongside lands. */
const LOWEST = 20_000;
const HIGHEST = 32_000;
const handedOut = new Set<number>();

/**
 * A port nothing listens on, for a process that cannot be told to take port 0, or to point at
 * a port where nothing answers. A port the kernel hands out for port 0 could be handed out
 * again to another test's socket before the process under test binds it; one picked outside
 * that range cannot, and none is given twice.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (HIGHEST - LOWEST));
    if (handedOut.has(port) || !(await canListen(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port between ${LOWEST} and ${HIGHEST} after 100 tries`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
