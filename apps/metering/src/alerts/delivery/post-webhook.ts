import type { Alert } from '@keyplane/contracts';
import { ALERT_ID_HEADER, SIGNATURE_HEADER, signBody } from './webhook-signature.js';

export interface WebhookTarget {
  url: string;
  /** Without one the POST goes unsigned (README says why that is a bad idea). */
  secret?: string;
  timeoutMs: number;
}

/**
 * POSTs one alert; resolves with null on a 2xx, or with why it failed. A redirect is a failed
 * attempt, as with Stripe's and GitHub's webhooks: followed, it would carry the signed alert to
 * a host nobody configured, or turn the POST into a GET that a 200 would mark delivered.
 */
export async function postAlert(target: WebhookTarget, alert: Alert): Promise<string | null> {
  const body = JSON.stringify(alert);
  const headers: Record<string, string> = { 'Content-Type': 'application/json', 'User-Agent': 'keyplane-metering', [ALERT_ID_HEADER]: alert.id };
  if (target.secret) headers[SIGNATURE_HEADER] = signBody(body, target.secret);
  const { url, authorization } = withoutCredentials(target.url);
  if (authorization) headers.Authorization = authorization;
  try {
    const response = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(target.timeoutMs) });
    // The status is the whole answer: a receiver's body, however long or slow, is never waited for nor held in memory.
    await response.body?.cancel().catch(() => undefined);
    if (response.ok) return null;
    return response.status >= 300 && response.status < 400 ? `HTTP ${response.status} (redirects are not followed)` : `HTTP ${response.status}`;
  } catch (error) {
    return failureText(error);
  }
}

/**
 * Credentials in the URL (`https://user:token@host/…`) go as Basic auth, as curl sends them:
 * fetch refuses a URL that carries them, and its error quotes the URL, token and all.
 */
function withoutCredentials(target: string): { url: string; authorization?: string } {
  const url = new URL(target);
  if (url.username === '' && url.password === '') return { url: target };
  const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  url.username = '';
  url.password = '';
  return { url: url.href, authorization: `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}` };
}

/** fetch says only "fetch failed"; the reason (refused, no such host, a certificate refused) is its cause. */
function failureText(error: unknown): string {
  // Duck-typed: fetch's errors come from another realm under some runners, where instanceof Error is false.
  const { message, cause } = (error ?? {}) as { message?: unknown; cause?: { message?: unknown } };
  if (typeof message !== 'string') return String(error);
  const reason = typeof cause?.message === 'string' ? cause.message : undefined;
  return reason && reason !== message ? `${message}: ${reason}` : message;
}
