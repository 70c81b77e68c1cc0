import { createServer, type AddressInfo } from 'node:net';

/**
 * A port nothing listens on: one the kernel just handed out, closed again. For a process
 * that cannot be told to take port 0, or to point at a port where nothing answers.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
