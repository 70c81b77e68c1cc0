import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { formatPath } from '@keyplane/contracts';
import { isPermission } from '@keyplane/permissions';
import { isTarget, TARGETS, type Target } from './targets.js';

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** One row of the route table, as the operator writes it. */
export interface RouteDefinition {
  methods: HttpMethod[];
  /** `/v1/...`; a `:name` segment matches any one path segment. */
  path: string;
  /** The permission the caller's key must satisfy; null lets any valid key through. */
  permission: string | null;
  target: Target;
}

const RouteFile = z.strictObject({
  routes: z.array(
    z.strictObject({
      methods: z.array(z.enum(HTTP_METHODS)).min(1),
      path: z.string(),
      permission: z.string().nullable(),
      target: z.string(),
    }),
  ),
});

// A `.` or `..` segment would be resolved away by the upstream's URL parser: never a route.
const PATH = /^\/v1(\/(:[a-zA-Z][a-zA-Z0-9_]*|(?!\.\.?(\/|$))[A-Za-z0-9._~-]+))+$/;

export function loadRouteTable(file: string): RouteDefinition[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`route table ${file} is not a readable JSON file: ${error instanceof Error ? error.message : String(error)}`);
  }
  return validateRouteTable(raw, file);
}

/** A bad entry stops start-up naming the entry: a typo in a permission must never open a route. */
export function validateRouteTable(raw: unknown, source = 'route table'): RouteDefinition[] {
  const parsed = RouteFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${source}: ${formatPath(issue?.path ?? [])}: ${issue?.message ?? 'invalid'}`);
  }
  const seen = new Set<string>();
  return parsed.data.routes.map((entry, i) => {
    const where = `${source}: routes[${i}] (${entry.methods.join(',')} ${entry.path})`;
    if (!PATH.test(entry.path)) throw new Error(`${where}: path must start with /v1/ and hold only plain segments (not . or ..) and :params`);
    if (entry.permission !== null && !isPermission(entry.permission)) {
      throw new Error(`${where}: unknown permission ${JSON.stringify(entry.permission)}`);
    }
    if (!isTarget(entry.target)) {
      throw new Error(`${where}: unknown target ${JSON.stringify(entry.target)}; expected one of ${Object.keys(TARGETS).join(', ')}`);
    }
    const params = entry.path.split('/').filter((s) => s.startsWith(':'));
    for (const needed of TARGETS[entry.target]) {
      if (!params.includes(`:${needed}`)) throw new Error(`${where}: target ${entry.target} needs a :${needed} path segment`);
    }
    const shape = entry.path.replace(/:[^/]+/g, ':');
    for (const method of entry.methods) {
      if (seen.has(`${method} ${shape}`)) throw new Error(`${where}: ${method} ${entry.path} is already routed by an earlier entry`);
      seen.add(`${method} ${shape}`);
    }
    return { methods: entry.methods, path: entry.path, permission: entry.permission, target: entry.target };
  });
}
