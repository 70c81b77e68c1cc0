import type { AuditEvent, KeyEvent } from '@keyplane/contracts';

/**
 * A lifecycle event as the audit trail shows it. Secret hashes are left out: they are not
 * secrets, but an audit reader has no use for them and they would let anyone holding a
 * leaked key confirm which key it is.
 */
export function toAuditEvent(event: KeyEvent): AuditEvent {
  return {
    id: event.eventId,
    type: event.type,
    keyId: event.keyId,
    accountId: event.accountId,
    actor: event.actor,
    occurredAt: event.occurredAt,
    data: auditData(event),
  };
}

function auditData(event: KeyEvent): Record<string, unknown> {
  switch (event.type) {
    case 'KeyIssued': {
      const { secret, ...rest } = event.data;
      return { ...rest, prefix: secret.displayPrefix, last4: secret.last4 };
    }
    case 'KeySecretRotated':
      return { prefix: event.data.secret.displayPrefix, last4: event.data.secret.last4, previousKeyExpiresAt: event.data.previousKeyExpiresAt };
    default:
      return event.data;
  }
}
