import { inboxPrefixFor } from './inbox-prefix.js';
import { natsTlsOptions, type NatsTls } from './tls.js';

/** Where to connect, as whom, and where the replies to this connection's requests arrive. */
export interface NatsServerOptions {
  servers: string;
  user?: string;
  pass?: string;
  token?: string;
  inboxPrefix?: string;
  /** Present whenever TLS was asked for: nats.js then never goes on in plaintext (see natsTlsOptions). */
  tls?: NatsTls;
}

/**
 * nats.js ignores credentials written into a server URL: it logs in without them, and a server
 * that has users answers "Authorization Violation". So they are taken out of the URL and passed
 * as options: `nats://user:password@host` logs in as that user, `nats://token@host` with a
 * token. Percent-encoded characters in them are decoded, as in any URL. A user's replies arrive
 * under its own inbox prefix (see inboxPrefixFor); a token, being a secret, never names one.
 * TLS is required whenever it was asked for, by `tls` or a `tls://` URL (see natsTlsOptions).
 */
export function natsServerOptions(url: string, tls?: NatsTls): NatsServerOptions {
  const tlsOptions = natsTlsOptions(url, tls);
  return tlsOptions ? { ...login(url), tls: tlsOptions } : login(url);
}

function login(url: string): NatsServerOptions {
  const parsed = new URL(url);
  if (parsed.username === '' && parsed.password === '') return { servers: url };
  const user = decoded(parsed.username);
  const pass = decoded(parsed.password);
  parsed.username = '';
  parsed.password = '';
  const servers = parsed.href;
  if (pass === '') return { servers, token: user };
  return user === '' ? { servers, user, pass } : { servers, user, pass, inboxPrefix: inboxPrefixFor(user) };
}

/** A `%` that starts no valid escape is kept as typed rather than refused. */
function decoded(component: string): string {
  try {
    return decodeURIComponent(component);
  } catch {
    return component;
  }
}
