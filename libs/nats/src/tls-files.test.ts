import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTestCertificates, type TestCertificates } from '../test/tls-nats-server.js';
import { checkNatsTlsFiles } from './tls-files.js';

let dir: string;
let certs: TestCertificates;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keyplane-nats-tls-files-'));
  certs = await makeTestCertificates(join(dir, 'certs'));
}, 30_000);

afterAll(() => rm(dir, { recursive: true, force: true }));

const fileOf = async (name: string, text: string) => {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
};

describe('checkNatsTlsFiles', () => {
  it('takes a CA bundle, and a client certificate with its own key', async () => {
    const bundle = await fileOf('bundle.pem', (await readFile(certs.otherCa, 'utf8')) + (await readFile(certs.ca, 'utf8')));
    expect(() => checkNatsTlsFiles({ caFile: bundle, certFile: certs.clientCert, keyFile: certs.clientKey })).not.toThrow();
  });

  it('stops on a file that cannot be read, naming the variable and the path', async () => {
    const missing = join(dir, 'nope', 'ca.pem');
    expect(() => checkNatsTlsFiles({ caFile: missing })).toThrow(new Error(`NATS_TLS_CA_FILE: cannot read ${missing} (no such file)`));
    expect(() => checkNatsTlsFiles({ caFile: dir })).toThrow(new Error(`NATS_TLS_CA_FILE: cannot read ${dir} (it is a directory)`));
    expect(() => checkNatsTlsFiles({ certFile: certs.clientCert, keyFile: missing })).toThrow(new Error(`NATS_TLS_KEY_FILE: cannot read ${missing} (no such file)`));
  });

  it('stops on a file that holds no PEM certificate, never showing what it holds', async () => {
    const garbage = await fileOf('garbage.pem', 'not-a-certificate-but-a-secret-s3cr3t');
    const broken = await fileOf('broken.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    for (const [tls, message] of [
      [{ caFile: garbage }, `NATS_TLS_CA_FILE: ${garbage} holds no PEM certificate, or one that cannot be read`],
      [{ caFile: broken }, `NATS_TLS_CA_FILE: ${broken} holds no PEM certificate, or one that cannot be read`],
      [{ certFile: certs.clientKey, keyFile: certs.clientKey }, `NATS_TLS_CERT_FILE: ${certs.clientKey} holds no PEM certificate, or one that cannot be read`],
    ] as const) {
      expect(() => checkNatsTlsFiles(tls)).toThrow(new Error(message));
    }
  });

  it('stops on a key file that holds no unencrypted PEM key, or the key of another certificate', async () => {
    const encrypted = await fileOf('encrypted.key', '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n');
    expect(() => checkNatsTlsFiles({ certFile: certs.clientCert, keyFile: encrypted })).toThrow(new Error(`NATS_TLS_KEY_FILE: ${encrypted} holds no unencrypted PEM private key`));
    expect(() => checkNatsTlsFiles({ certFile: certs.clientCert, keyFile: certs.clientCert })).toThrow(
      new Error(`NATS_TLS_KEY_FILE: ${certs.clientCert} holds no unencrypted PEM private key`),
    );
    expect(() => checkNatsTlsFiles({ certFile: certs.clientCert, keyFile: certs.serverKey })).toThrow(
      new Error(`NATS_TLS_KEY_FILE (${certs.serverKey}) is not the key of the certificate in NATS_TLS_CERT_FILE (${certs.clientCert})`),
    );
  });
});
