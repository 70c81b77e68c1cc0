const SCOPED = /^([^:]+):([^:]+)$/;

/** Splits `R:A`; anything else (including `*`) is not a scoped permission. */
export function splitPermission(permission: string): { resource: string; action: string } | null {
  const match = SCOPED.exec(permission);
  return match ? { resource: match[1], action: match[2] } : null;
}
