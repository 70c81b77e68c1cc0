import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { NATS_TLS_VARIABLES, type NatsTls } from './tls.js';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

const READ_FAILURES: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'it is a directory',
};

/**
 * Reads each file `tls` names once, at start-up, and stops with the variable and the path
 * when one is missing, unreadable or not what it should be: nats.js would otherwise fail at
 * its first connection with an OpenSSL code, or a bare path. Never says what a file holds.
 */
export function checkNatsTlsFiles(tls: NatsTls): void {
  if (tls.caFile !== undefined) certificates('caFile', tls.caFile);
  if (tls.certFile === undefined || tls.keyFile === undefined) return;
  const [certificate] = certificates('certFile', tls.certFile);
  const key = privateKey(tls.keyFile);
  if (!certificate!.checkPrivateKey(key)) {
    throw new Error(`${NATS_TLS_VARIABLES.keyFile} (${tls.keyFile}) is not the key of the certificate in ${NATS_TLS_VARIABLES.certFile} (${tls.certFile})`);
  }
}

function certificates(setting: 'caFile' | 'certFile', path: string): X509Certificate[] {
  const blocks = read(setting, path).match(PEM_CERTIFICATE) ?? [];
  const parsed = blocks.map((block) => parse(() => new X509Certificate(block)));
  if (parsed.length === 0 || parsed.includes(undefined)) throw new Error(`${NATS_TLS_VARIABLES[setting]}: ${path} holds no PEM certificate, or one that cannot be read`);
  return parsed as X509Certificate[];
}

function privateKey(path: string): KeyObject {
  const text = read('keyFile', path);
  // nats.js takes no passphrase; an encrypted key is refused before OpenSSL would ask for one.
  const key = /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text) && !text.includes('ENCRYPTED') ? parse(() => createPrivateKey(text)) : undefined;
  if (!key) throw new Error(`${NATS_TLS_VARIABLES.keyFile}: ${path} holds no unencrypted PEM private key`);
  return key;
}

function read(setting: keyof NatsTls, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = String((error as NodeJS.ErrnoException).code);
    throw new Error(`${NATS_TLS_VARIABLES[setting]}: cannot read ${path} (${READ_FAILURES[code] ?? code})`);
  }
}

/** OpenSSL's own messages are codes, not reasons: the caller says what was wrong. */
function parse<T>(make: () => T): T | undefined {
  try {
    return make();
  } catch {
    return undefined;
  }
}
