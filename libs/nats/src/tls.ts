/** The settings that turn on TLS to NATS, the same in every service (docs/operations.md, TLS to NATS). */
export const NATS_TLS_VARIABLES = {
  caFile: 'NATS_TLS_CA_FILE',
  certFile: 'NATS_TLS_CERT_FILE',
  keyFile: 'NATS_TLS_KEY_FILE',
} as const;

/**
 * TLS to NATS, asked for by a `NATS_TLS_*` setting: paths, which nats.js reads again on every
 * (re)connection, so a certificate renewed in a mounted Secret is taken up without a restart.
 */
export interface NatsTls {
  /** PEM bundle of the CAs that may sign the server's certificate; Node's own CAs when absent. */
  caFile?: string;
  /** The client certificate and its key, for a server that verifies clients: both or neither. */
  certFile?: string;
  keyFile?: string;
}

/** The settings as read, empty ones being unset. */
export type NatsTlsSettings = Partial<Record<keyof NatsTls, string | undefined>>;

/**
 * What the `NATS_TLS_*` settings ask for: nothing when none is set. A certificate without its
 * key (or the other way round) is refused here rather than left to a handshake the server fails.
 */
export function natsTlsFromSettings(settings: NatsTlsSettings): NatsTls | undefined {
  const { caFile, certFile, keyFile } = settings;
  if ((certFile === undefined) !== (keyFile === undefined)) {
    const [set, unset] = certFile === undefined ? [NATS_TLS_VARIABLES.keyFile, NATS_TLS_VARIABLES.certFile] : [NATS_TLS_VARIABLES.certFile, NATS_TLS_VARIABLES.keyFile];
    throw new Error(`${NATS_TLS_VARIABLES.certFile} and ${NATS_TLS_VARIABLES.keyFile} go together (a client certificate and its key): ${set} is set, ${unset} is not`);
  }
  if (caFile === undefined && certFile === undefined) return undefined;
  return { ...(caFile !== undefined && { caFile }), ...(certFile !== undefined && { certFile, keyFile }) };
}

/**
 * nats.js's `tls` option for a connection to `url`, where any object, even empty, makes TLS
 * required: whenever it was asked for, by a setting or by a `tls://` URL. nats.js itself reads `tls://` as `nats://`, and goes on in plaintext
 * with a server that offers no TLS; with this option it refuses to.
 */
export function natsTlsOptions(url: string, tls: NatsTls | undefined): NatsTls | undefined {
  if (tls) return { ...tls };
  return new URL(url).protocol === 'tls:' ? {} : undefined;
}
