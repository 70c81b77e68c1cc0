import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readYamlDocuments, repoRoot, type Manifest } from './read.js';

// The shipped Prometheus alert rules (infra/k8s/components/alert-rules, docs/operations.md
// "Alerts"): each alert complete, and every metric it reads one the services export as the
// Metrics reference documents it (apps/e2e/test/metrics-reference.test.ts holds the reference to
// the running services), so a renamed metric cannot leave an alert that never fires.

const dir = 'infra/k8s/components/alert-rules';
const [component] = readYamlDocuments(`${dir}/kustomization.yaml`);
const rules = (component.resources as string[]).flatMap((file) => readYamlDocuments(`${dir}/${file}`));
const alerts: Manifest[] = rules.flatMap((rule) => rule.spec.groups.flatMap((group: Manifest) => group.rules));

const operations = readFileSync(join(repoRoot, 'docs/operations.md'), 'utf8');
/** From a heading to the next one of its level or above. */
function section(heading: string): string {
  const start = operations.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`docs/operations.md has no "${heading}"`);
  const level = heading.indexOf(' ');
  const next = operations.slice(start + heading.length + 2).search(new RegExp(`^#{1,${level}} `, 'm'));
  return operations.slice(start, next < 0 ? undefined : start + heading.length + 2 + next);
}

/** Each metric of the reference's tables with its type and, per label, the values its cell names. */
const reference = new Map(
  section('## Metrics reference')
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => {
      const [name, type, labels] = line.slice(1, -1).split(' | ').map((cell) => cell.trim());
      const values = new Map([...labels.matchAll(/(?:^|; )`([a-z_]+)`: ([^;]*)/g)].map(([, label, text]) => [label, [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1])]));
      return [name.replace(/`/g, ''), { type, values }] as const;
    }),
);

const PROMQL_WORDS = new Set(['sum', 'max', 'min', 'avg', 'count', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'rate', 'increase', 'irate', 'delta', 'deriv', 'absent', 'histogram_quantile', 'clamp_min', 'max_over_time', 'min_over_time', 'avg_over_time', 'inf', 'nan']);

/** The metrics an expression reads, each with the label matchers it puts on them. */
function selectors(expr: string): { metric: string; matchers: { label: string; values: string[] }[] }[] {
  const found: { metric: string; matchers: { label: string; values: string[] }[] }[] = [];
  // Grouping labels and range windows name no metric.
  const stripped = expr.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ').replace(/\[[^\]]*\]/g, ' ');
  for (const [, name, body, call] of stripped.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?(\s*\()?/g)) {
    if (PROMQL_WORDS.has(name) || (call && !body)) continue;
    const matchers = [...(body ?? '').matchAll(/([a-zA-Z_]\w*)\s*(=~|=|!=|!~)\s*"([^"]*)"/g)].map(([, label, op, value]) => ({
      label,
      values: op.startsWith('!') ? [] : value.split('|'),
    }));
    found.push({ metric: name, matchers });
  }
  return found;
}

/** A histogram's `_bucket`, `_sum` and `_count` are read under the histogram's name. */
function documentedAs(metric: string): string | undefined {
  if (reference.has(metric)) return metric;
  const base = metric.replace(/_(bucket|sum|count)$/, '');
  return reference.get(base)?.type === 'histogram' ? base : undefined;
}

describe('Prometheus alert rules', () => {
  it('are a kustomize Component holding one PrometheusRule, outside the base the overlays apply', () => {
    expect(component.kind).toBe('Component');
    expect(rules.map(({ apiVersion, kind }) => ({ apiVersion, kind }))).toEqual([{ apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule' }]);
    expect(rules[0].metadata.namespace).toBeUndefined();
    const [base] = readYamlDocuments('infra/k8s/base/kustomization.yaml');
    expect(JSON.stringify(base)).not.toContain('alert-rules');
  });

  it('reads the reference table the checks below rely on', () => {
    expect(reference.size).toBeGreaterThan(30);
    expect(reference.get('auth_decisions_total')?.values.get('outcome')).toEqual(expect.arrayContaining(['error', 'allowed']));
  });

  it('give every alert a unique name, an expr, a for, a severity and a summary and description pointing to the docs', () => {
    const names = alerts.map((alert) => alert.alert);
    expect(new Set(names).size).toBe(names.length);
    expect(names.length).toBeGreaterThanOrEqual(8);
    for (const alert of alerts) {
      expect({
        alert: alert.alert,
        expr: typeof alert.expr === 'string' && alert.expr.trim().length > 0,
        for: /^\d+[smh]$/.test(alert.for ?? ''),
        severity: ['critical', 'warning'].includes(alert.labels?.severity),
        summary: typeof alert.annotations?.summary === 'string',
        description: /docs\/operations\.md, Alerts/.test(alert.annotations?.description ?? ''),
      }).toEqual({ alert: alert.alert, expr: true, for: true, severity: true, summary: true, description: true });
    }
  });

  it('read only metrics in the Metrics reference, with labels and values it documents for them', () => {
    const problems: string[] = [];
    for (const alert of alerts) {
      const read = selectors(alert.expr);
      if (read.length === 0) problems.push(`${alert.alert}: reads no metric`);
      for (const { metric, matchers } of read) {
        const name = documentedAs(metric);
        if (!name) {
          problems.push(`${alert.alert}: ${metric} is not in docs/operations.md's Metrics reference`);
          continue;
        }
        const labels = reference.get(name)!.values;
        for (const { label, values } of matchers) {
          const documented = labels.get(label);
          if (!documented) problems.push(`${alert.alert}: ${metric} has no label ${label} in the reference`);
          else for (const value of values) if (!documented.includes(value)) problems.push(`${alert.alert}: ${metric}{${label}="${value}"} is not a documented value`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('are each explained in the Alerts subsection of docs/operations.md', () => {
    const documented = [...section('### Alerts').matchAll(/^\| `(\w+)` \| (critical|warning) \|/gm)].map(([, name, severity]) => ({ name, severity }));
    expect(documented).toEqual(alerts.map((alert) => ({ name: alert.alert, severity: alert.labels.severity })));
  });
});
