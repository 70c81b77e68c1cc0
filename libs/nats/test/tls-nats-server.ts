import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

// A throwaway CA with a server and a client certificate (made with the openssl CLI), and a
// nats-server of a test's own that requires TLS with them: what an operator runs in Kubernetes.

const run = promisify(execFile);
const NATS_SERVER = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

export interface TestCertificates {
  /** The CA that signed the server's and the client's certificates. */
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed neither. */
  otherCa: string;
}

/** P-256 keys, valid for a day; the server's certificate is for 127.0.0.1 and localhost. */
export async function makeTestCertificates(dir: string): Promise<TestCertificates> {
  await mkdir(dir, { recursive: true });
  const at = (name: string) => join(dir, name);
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const ca = async (name: string) => {
    await run('openssl', ['req', '-x509', ...newKey, '-keyout', at(`${name}.key`), '-out', at(`${name}.pem`), '-days', '1', '-subj', `/CN=${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  };
  const signed = async (name: string, serial: number, extensions: string) => {
    await writeFile(at(`${name}.ext`), extensions);
    await run('openssl', ['req', ...newKey, '-keyout', at(`${name}.key`), '-out', at(`${name}.csr`), '-subj', `/CN=${name}`]);
    await run('openssl', ['x509', '-req', '-in', at(`${name}.csr`), '-CA', at('ca.pem'), '-CAkey', at('ca.key'), '-set_serial', String(serial), '-days', '1',
      '-extfile', at(`${name}.ext`), '-out', at(`${name}.pem`)]);
  };
  await ca('ca');
  await ca('other-ca');
  await signed('server', 2, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await signed('client', 3, 'extendedKeyUsage=clientAuth\n');
  return {
    ca: at('ca.pem'),
    serverCert: at('server.pem'),
    serverKey: at('server.key'),
    clientCert: at('client.pem'),
    clientKey: at('client.key'),
    otherCa: at('other-ca.pem'),
  };
}

export interface TlsNatsServer {
  /** `nats://127.0.0.1:<port>`: TLS is the server's to require, whatever the scheme. */
  url: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * nats-server with JetStream (its store in `dir`) on a port of its choosing, requiring TLS with
 * `certs`' server certificate; with `verifyClients`, also a client certificate signed by `certs.ca`.
 */
export async function startTlsNats(dir: string, certs: TestCertificates, { verifyClients }: { verifyClients: boolean }): Promise<TlsNatsServer> {
  await mkdir(dir, { recursive: true });
  const config = join(dir, 'nats.conf');
  await writeFile(
    config,
    `tls {\n  cert_file: ${JSON.stringify(certs.serverCert)}\n  key_file: ${JSON.stringify(certs.serverKey)}\n  ca_file: ${JSON.stringify(certs.ca)}\n  verify: ${verifyClients}\n  timeout: 2\n}\n`,
  );
  const child: ChildProcess = spawn(NATS_SERVER, ['-c', config, '-a', '127.0.0.1', '-p', '-1', '-js', '-sd', join(dir, 'jetstream')], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`nats-server did not start within 10 s: ${output}`)), 10_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const listening = /Listening for client connections on [^\s]+:(\d+)/.exec(output);
      if (listening && output.includes('Server is ready')) {
        clearTimeout(timer);
        resolve(Number(listening[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited ${code}: ${output}`));
    });
  }).catch(async (error: unknown) => {
    child.kill('SIGKILL');
    await exited;
    throw error;
  });
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}
