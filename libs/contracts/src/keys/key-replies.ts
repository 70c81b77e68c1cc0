import type { AuditEvent, KeyObject } from './key-object.js';

export interface IssuedKey {
  key: KeyObject;
}

export interface RotatedKey {
  key: KeyObject;
  previousKeyExpiresAt: string;
}

export interface KeyPage {
  data: KeyObject[];
  nextCursor: string | null;
}

export interface AuditPage {
  data: AuditEvent[];
  nextCursor: string | null;
}
