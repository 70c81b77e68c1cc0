import { explainNatsTlsFailure, type NatsTls } from '@keyplane/nats';

/** A server a service needs before it can serve, and the variable that says where it is. */
export interface Dependency {
  /** What an operator calls it. */
  name: string;
  variable: string;
  /** Where the service looked: host and port (and database), never the URL, which may hold a password. */
  where: string;
  /** What a failure means when the error alone does not say it well (a TLS handshake), if it knows. */
  explain?: (error: unknown) => string | undefined;
}

export function postgresDependency(url: string): Dependency {
  const parsed = new URL(url);
  const database = decodeURIComponent(parsed.pathname.slice(1));
  return { name: 'Postgres', variable: 'DATABASE_URL', where: `${hostAndPort(parsed, 5432)}, database "${database}"` };
}

/** `tls`: the service's `NATS_TLS_*` settings, so that a TLS failure names the one to look at. */
export function natsDependency(url: string, tls?: NatsTls): Dependency {
  return { name: 'NATS', variable: 'NATS_URL', where: hostAndPort(new URL(url), 4222), explain: (error) => explainNatsTlsFailure(error, url, tls) };
}

const hostAndPort = (url: URL, defaultPort: number) => `${url.hostname || '127.0.0.1'}:${url.port || defaultPort}`;

/** Socket errors that mean nothing answered where the service looked. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);
/** nats.js's errors for the same, which carry the socket error as their cause, if any. */
const UNREACHABLE_NAMES = new Set(['ConnectionError', 'TimeoutError']);

/**
 * Runs a start-up step against `dependency`. Its failure names the server, where the service
 * looked and the variable to change: a bare `connect ECONNREFUSED 10.0.0.5:5432` or `permission
 * denied to create database` says none of it.
 */
export async function reaching<T>(dependency: Dependency, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    throw dependencyError(dependency, error);
  }
}

function dependencyError({ name, variable, where, explain }: Dependency, error: unknown): Error {
  const explained = explain?.(error);
  // Reached, but refused over TLS: "not reachable" would send the operator the wrong way.
  if (explained !== undefined) return new Error(`${name} at ${where} (${variable}): ${explained}`);
  const chain = causes(error);
  const reason = chain.map(describe).filter((text) => text !== '').join(': ');
  const unreachable = chain.some((e) => e instanceof Error && (UNREACHABLE_CODES.has(String((e as NodeJS.ErrnoException).code)) || UNREACHABLE_NAMES.has(e.name)));
  // No `cause`: the log's error serializer would append its message a second time.
  const failure = new Error(unreachable ? `${name} is not reachable at ${where} (${variable}): ${reason}` : `${name} at ${where} (${variable}): ${reason}`);
  const code = chain.map((e) => (e as NodeJS.ErrnoException | undefined)?.code).find((c) => c !== undefined);
  return code === undefined ? failure : Object.assign(failure, { code });
}

/** An AggregateError (each address of `localhost` refused) has no message, only a code. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.message || String((error as NodeJS.ErrnoException).code ?? error.name);
}

function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e: unknown = error; e !== undefined && chain.length < 5; e = e instanceof Error ? e.cause : undefined) chain.push(e);
  return chain;
}
