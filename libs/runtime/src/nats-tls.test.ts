import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { natsDependency, reaching } from './dependency.js';
import { EnvReader, readCommonConfig } from './env.js';

// The NATS_TLS_* settings as every service reads them (readCommonConfig), and how a TLS
// failure at start-up reads. Connections over TLS: libs/nats/src/tls.test.ts.

let dir: string;
let ca: string;
let clientCert: string;
let clientKey: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'keyplane-runtime-tls-'));
  [ca, clientCert, clientKey] = ['ca.pem', 'client.pem', 'client.key'].map((name) => join(dir, name));
  const selfSigned = (cert: string, key: string) =>
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=t'], { stdio: 'ignore' });
  selfSigned(ca, join(dir, 'ca.key'));
  selfSigned(clientCert, clientKey);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const read = (env: NodeJS.ProcessEnv) => readCommonConfig(new EnvReader(env), 9081);

describe('readCommonConfig: NATS_TLS_*', () => {
  it('asks for no TLS when none is set, or when they are empty', () => {
    expect(read({}).natsTls).toBeUndefined();
    expect(read({ NATS_TLS_CA_FILE: '', NATS_TLS_CERT_FILE: '', NATS_TLS_KEY_FILE: '' }).natsTls).toBeUndefined();
  });

  it('reads the CA, and the client certificate with its key', () => {
    expect(read({ NATS_URL: 'tls://nats:4222', NATS_TLS_CA_FILE: ca }).natsTls).toEqual({ caFile: ca });
    expect(read({ NATS_TLS_CA_FILE: ca, NATS_TLS_CERT_FILE: clientCert, NATS_TLS_KEY_FILE: clientKey }).natsTls).toEqual({ caFile: ca, certFile: clientCert, keyFile: clientKey });
  });

  it('stops on a certificate without its key, naming both variables', () => {
    expect(() => read({ NATS_TLS_CERT_FILE: clientCert })).toThrow(
      new Error('NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE go together (a client certificate and its key): NATS_TLS_CERT_FILE is set, NATS_TLS_KEY_FILE is not'),
    );
  });

  it('stops on a file it cannot read, naming the variable and the path', () => {
    const missing = join(dir, 'missing.pem');
    expect(() => read({ NATS_TLS_CA_FILE: missing })).toThrow(new Error(`NATS_TLS_CA_FILE: cannot read ${missing} (no such file)`));
    const notPem = join(dir, 'not.pem');
    writeFileSync(notPem, 'hello');
    expect(() => read({ NATS_TLS_CA_FILE: notPem })).toThrow(new Error(`NATS_TLS_CA_FILE: ${notPem} holds no PEM certificate, or one that cannot be read`));
  });
});

describe('natsDependency: a TLS failure at start-up', () => {
  const fail = (error: unknown) => reaching(natsDependency('nats://keys:pw@nats:4222', undefined), () => Promise.reject(error));

  it('names the setting to change, not "not reachable"', async () => {
    const untrusted = Object.assign(new Error('unable to verify the first certificate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    await expect(fail(untrusted)).rejects.toThrow(
      new Error(
        "NATS at nats:4222 (NATS_URL): TLS: the server's certificate is not trusted (unable to verify the first certificate): set NATS_TLS_CA_FILE to the PEM file of the CA that signed it",
      ),
    );
  });

  it('leaves other failures as they were', async () => {
    const refused = Object.assign(new Error('connection refused'), { name: 'ConnectionError' });
    await expect(fail(refused)).rejects.toThrow(new Error('NATS is not reachable at nats:4222 (NATS_URL): connection refused'));
  });
});
