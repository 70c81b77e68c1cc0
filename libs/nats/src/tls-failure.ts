import { NATS_TLS_VARIABLES, natsTlsOptions, type NatsTls } from './tls.js';

/** Node's codes for a server certificate that no trusted CA signed. */
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
]);

/** Node's codes for a server certificate refused for what it says, not for who signed it. */
const REFUSED = new Set(['ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_REVOKED', 'INVALID_PURPOSE']);

/**
 * What a failed connection to `url` means for TLS, naming the setting to look at; undefined
 * when it is no TLS failure. nats.js passes on Node's certificate errors as they are, says
 * "server does not support 'tls'" when TLS was asked of a server without it, and, when the
 * server ends the handshake over the client's certificate (TLS 1.3 does so only after the
 * client thinks it is done), waits out its connection timeout and reports a bare timeout.
 */
export function explainNatsTlsFailure(error: unknown, url: string, tls: NatsTls | undefined): string | undefined {
  const chain = causes(error);
  const certificate = chain.find((e) => UNTRUSTED.has(codeOf(e)) || REFUSED.has(codeOf(e)));
  if (certificate) {
    const reason = certificate.message;
    if (REFUSED.has(codeOf(certificate))) return `TLS: the server's certificate was refused (${reason})`;
    return tls?.caFile === undefined
      ? `TLS: the server's certificate is not trusted (${reason}): set ${NATS_TLS_VARIABLES.caFile} to the PEM file of the CA that signed it`
      : `TLS: the server's certificate is not signed by a CA in ${NATS_TLS_VARIABLES.caFile} (${tls.caFile}): ${reason}`;
  }
  const asked = natsTlsOptions(url, tls) !== undefined;
  if (asked && chain.some((e) => e.message === "server does not support 'tls'")) {
    return `TLS: the server offers none, and TLS was asked for (a tls:// NATS_URL or a NATS_TLS_* setting): nothing was sent in plaintext`;
  }
  if (asked && chain.some((e) => e.name === 'TimeoutError')) {
    const client = `${NATS_TLS_VARIABLES.certFile} and ${NATS_TLS_VARIABLES.keyFile}`;
    return tls?.certFile === undefined
      ? `timeout: over TLS, a server that wants a client certificate and gets none ends so; if it verifies clients, set ${client} (its log says "client didn't provide a certificate")`
      : `timeout: over TLS, a server that refuses the client certificate ends so; check ${client} against the CA the server verifies clients with (its log says why)`;
  }
  return undefined;
}

/** Not `instanceof Error`: Node's TLS errors may come from another realm than the caller's `Error` (a test's VM context). */
function causes(error: unknown): Error[] {
  const chain: Error[] = [];
  for (let e: unknown = error; isError(e) && chain.length < 5; e = e.cause) chain.push(e);
  return chain;
}

const isError = (value: unknown): value is Error => typeof value === 'object' && value !== null && typeof (value as Error).message === 'string';

const codeOf = (error: Error) => String((error as NodeJS.ErrnoException).code);
