import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { makeTestCertificates, startTlsNats, type TestCertificates, type TlsNatsServer } from '../test/tls-nats-server.js';
import { decodeJson, encodeJson } from './codec.js';
import { connectNats } from './connect.js';
import { explainNatsTlsFailure } from './tls-failure.js';
import type { NatsTls } from './tls.js';

// connectNats against nats-servers of this file's own that require TLS: one that verifies its
// clients' certificates and one that does not. The shared plaintext NATS shows that TLS, once
// asked for, is never given up for plaintext.

const PLAINTEXT_NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
/** nats.js's connection timeout: how long it takes to report a refused client certificate (see explainNatsTlsFailure). */
const NATS_JS_CONNECT_TIMEOUT_MS = 20_000;

let dir: string;
let certs: TestCertificates;
let serverOnly: TlsNatsServer;
let mutual: TlsNatsServer;
const open: NatsConnection[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keyplane-nats-tls-'));
  certs = await makeTestCertificates(join(dir, 'certs'));
  serverOnly = await startTlsNats(join(dir, 'server-only'), certs, { verifyClients: false });
  mutual = await startTlsNats(join(dir, 'mutual'), certs, { verifyClients: true });
}, 30_000);

afterAll(async () => {
  await Promise.all(open.map((nc) => nc.close()));
  await serverOnly?.stop();
  await mutual?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function connected(url: string, tls: NatsTls | undefined, name: string): Promise<NatsConnection> {
  const nc = await connectNats({ url, name, tls });
  open.push(nc);
  return nc;
}

/** How connectNats fails, and what explainNatsTlsFailure makes of it. */
async function refusal(url: string, tls: NatsTls | undefined): Promise<{ error: string; explained: string | undefined }> {
  const error = await connectNats({ url, name: 'tls-refused', tls }).then(
    async (nc) => {
      await nc.close();
      throw new Error(`connected to ${url}, which it must not`);
    },
    (e: unknown) => e,
  );
  return { error: `${(error as Error).name}: ${(error as Error).message}`, explained: explainNatsTlsFailure(error, url, tls) };
}

/** A request answered and a JetStream publish stored, over `nc`. */
async function works(nc: NatsConnection, label: string): Promise<void> {
  const subject = `tls-test.${label}.echo`;
  const sub = nc.subscribe(subject, {
    callback: (_error, msg) => {
      msg.respond(encodeJson({ echoed: decodeJson(msg.data) }));
    },
  });
  const reply = await nc.request(subject, encodeJson({ hello: label }), { timeout: 2000 });
  expect(decodeJson(reply.data)).toEqual({ echoed: { hello: label } });
  sub.unsubscribe();

  const stream = `TLS_TEST_${label.toUpperCase()}`;
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: stream, subjects: [`tls-test.${label}.events`] });
  const ack = await jetstream(nc).publish(`tls-test.${label}.events`, encodeJson({ n: 1 }), { msgID: `${label}-1` });
  expect({ stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate }).toEqual({ stream, seq: 1, duplicate: false });
  const stored = await jsm.streams.getMessage(stream, { seq: 1 });
  expect(decodeJson(stored!.data)).toEqual({ n: 1 });
}

describe('a server that requires TLS', () => {
  it('is reached with NATS_TLS_CA_FILE: requests and JetStream work, over TLS', async () => {
    const nc = await connected(serverOnly.url, { caFile: certs.ca }, 'tls-ca');
    expect(nc.info?.tls_required).toBe(true);
    await works(nc, 'ca');
  });

  it('is reached through a tls:// URL with the CA', async () => {
    await works(await connected(`tls://127.0.0.1:${serverOnly.port}`, { caFile: certs.ca }, 'tls-scheme'), 'scheme');
  });

  it('is refused without the CA, naming NATS_TLS_CA_FILE', async () => {
    expect(await refusal(serverOnly.url, undefined)).toEqual({
      error: 'Error: unable to verify the first certificate',
      explained: "TLS: the server's certificate is not trusted (unable to verify the first certificate): set NATS_TLS_CA_FILE to the PEM file of the CA that signed it",
    });
  });

  it('is refused through a tls:// URL without the CA: a self-signed server is not trusted for asking', async () => {
    expect((await refusal(`tls://127.0.0.1:${serverOnly.port}`, undefined)).explained).toContain('set NATS_TLS_CA_FILE');
  });

  it('is refused with a CA that did not sign its certificate, naming the file', async () => {
    expect((await refusal(serverOnly.url, { caFile: certs.otherCa })).explained).toBe(
      `TLS: the server's certificate is not signed by a CA in NATS_TLS_CA_FILE (${certs.otherCa}): unable to verify the first certificate`,
    );
  });
});

describe('a server that verifies client certificates', () => {
  it('is reached with NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE', async () => {
    const nc = await connected(mutual.url, { caFile: certs.ca, certFile: certs.clientCert, keyFile: certs.clientKey }, 'tls-mutual');
    expect(nc.info?.tls_verify).toBe(true);
    await works(nc, 'mutual');
  });

  it('is refused without a client certificate, naming NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE', async () => {
    const { error, explained } = await refusal(mutual.url, { caFile: certs.ca });
    expect(error).toBe('TimeoutError: timeout');
    expect(explained).toBe(
      'timeout: over TLS, a server that wants a client certificate and gets none ends so; if it verifies clients, set NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE (its log says "client didn\'t provide a certificate")',
    );
  }, NATS_JS_CONNECT_TIMEOUT_MS + 10_000);
});

describe('TLS asked of a server that offers none', () => {
  it.each([
    ['a tls:// URL', `tls://${new URL(PLAINTEXT_NATS_URL).host}`, () => undefined],
    ['NATS_TLS_CA_FILE', PLAINTEXT_NATS_URL, () => ({ caFile: certs.ca })],
  ])('is refused, never carried on in plaintext: %s', async (_asked, url, tls) => {
    expect(await refusal(url, tls())).toEqual({
      error: "ConnectionError: server does not support 'tls'",
      explained: 'TLS: the server offers none, and TLS was asked for (a tls:// NATS_URL or a NATS_TLS_* setting): nothing was sent in plaintext',
    });
  });

  it('is still reached in plaintext when TLS was not asked for', async () => {
    const nc = await connected(PLAINTEXT_NATS_URL, undefined, 'tls-not-asked');
    expect(nc.info?.tls_required).toBeUndefined();
  });
});
