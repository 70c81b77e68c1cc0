import { getOrCreate } from '@keyplane/runtime';
import type { HttpMethod, RouteDefinition } from './route-table.js';
import type { Target } from './targets.js';

/** A route table row for one method, compiled. */
export interface Route {
  method: HttpMethod;
  pattern: string;
  permission: string | null;
  target: Target;
  /** `GET /v1/flows/:id`: the metrics label, so label cardinality stays bounded. */
  label: string;
}

export interface RouteMatch {
  route: Route;
  params: Record<string, string>;
}

interface PatternRoute {
  route: Route;
  /** Literal segments, with null where the pattern has a parameter. */
  segments: (string | null)[];
  paramNames: string[];
}

/**
 * Matches raw request paths against the route table on every request, so the table is
 * compiled once: exact paths in a map, patterns bucketed by method and segment count.
 */
export class RouteMatcher {
  private readonly exact = new Map<string, Map<string, Route>>();
  private readonly patterns = new Map<string, Map<number, PatternRoute[]>>();

  constructor(definitions: readonly RouteDefinition[]) {
    for (const definition of definitions) {
      for (const method of definition.methods) this.add(method, definition);
    }
  }

  /** `path` is the raw path without its query string. HEAD falls back to the GET route. */
  match(method: string, path: string): RouteMatch | null {
    const found = this.matchMethod(method, path);
    if (found || method !== 'HEAD') return found;
    return this.matchMethod('GET', path);
  }

  /** The methods routed for this path, for a 405's `Allow` header; empty when the path is unknown. */
  allowedMethods(path: string): string[] {
    const allowed: string[] = [];
    for (const method of this.exact.keys()) if (this.matchMethod(method, path)) allowed.push(method);
    for (const method of this.patterns.keys()) if (!allowed.includes(method) && this.matchMethod(method, path)) allowed.push(method);
    if (allowed.includes('GET') && !allowed.includes('HEAD')) allowed.push('HEAD');
    return allowed;
  }

  private matchMethod(method: string, path: string): RouteMatch | null {
    const route = this.exact.get(method)?.get(path);
    if (route) return { route, params: {} };

    const candidates = this.patterns.get(method)?.get(segmentCount(path));
    if (!candidates) return null;
    const segments = path.split('/');
    for (const candidate of candidates) {
      const params = matchSegments(candidate, segments);
      if (params) return { route: candidate.route, params };
    }
    return null;
  }

  private add(method: HttpMethod, definition: RouteDefinition): void {
    const route: Route = {
      method,
      pattern: definition.path,
      permission: definition.permission,
      target: definition.target,
      label: `${method} ${definition.path}`,
    };
    const segments = definition.path.split('/');
    if (!segments.some(isParam)) {
      getOrCreate(this.exact, method, () => new Map<string, Route>()).set(definition.path, route);
      return;
    }
    getOrCreate(getOrCreate(this.patterns, method, () => new Map<number, PatternRoute[]>()), segments.length, () => []).push({
      route,
      segments: segments.map((s) => (isParam(s) ? null : s)),
      paramNames: segments.filter(isParam).map((s) => s.slice(1)),
    });
  }
}

function matchSegments({ segments: pattern, paramNames }: PatternRoute, segments: string[]): Record<string, string> | null {
  let params: Record<string, string> | null = null;
  let p = 0;
  for (let i = 0; i < pattern.length; i++) {
    const literal = pattern[i];
    const segment = segments[i]!;
    if (literal !== null) {
      if (literal !== segment) return null;
      continue;
    }
    const value = paramValue(segment);
    if (value === null) return null;
    params ??= {};
    params[paramNames[p++]!] = value;
  }
  return params ?? {};
}

/**
 * A parameter is one non-empty segment that cannot walk the path when the upstream URL is
 * resolved: no `.` or `..` (raw or percent-encoded), no backslash (WHATWG URLs read it as `/`).
 */
function paramValue(segment: string): string | null {
  if (segment === '' || segment.includes('\\')) return null;
  let value = segment;
  if (segment.includes('%')) {
    try {
      value = decodeURIComponent(segment);
    } catch {
      return null;
    }
    if (value.includes('/') || value.includes('\\')) return null;
  }
  return value === '.' || value === '..' ? null : value;
}

function segmentCount(path: string): number {
  let count = 1;
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 47) count++;
  return count;
}

const isParam = (segment: string) => segment.startsWith(':');
