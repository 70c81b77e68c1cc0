import type { Alert } from '@keyplane/contracts';
import { ALERT_ID_HEADER, SIGNATURE_HEADER, signBody } from './webhook-signature.js';

export interface WebhookTarget {
  url: string;
  /** Without one the POST goes unsigned (README says why that is a bad idea). */
  secret?: string;
  timeoutMs: number;
}

/** POSTs one alert; resolves with null on a 2xx, or with why it failed. */
export async function postAlert(target: WebhookTarget, alert: Alert): Promise<string | null> {
  const body = JSON.stringify(alert);
  const headers: Record<string, string> = { 'Content-Type': 'application/json', 'User-Agent': 'keyplane-metering', [ALERT_ID_HEADER]: alert.id };
  if (target.secret) headers[SIGNATURE_HEADER] = signBody(body, target.secret);
  try {
    const response = await fetch(target.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(target.timeoutMs) });
    // Drain the body so the connection can be reused.
    await response.arrayBuffer().catch(() => undefined);
    return response.ok ? null : `HTTP ${response.status}`;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
