import { namespace } from './namespace.js';

describe('namespace', () => {
  it('uses the bare subjects and stream names in production', () => {
    const { subjects, streams } = namespace();
    expect(subjects.auth.decide).toBe('auth.decide');
    expect(subjects.keys.issue).toBe('keys.cmd.issue');
    expect(subjects.keyEvents.forKey('key_X')).toBe('events.keys.key_X');
    expect(subjects.alerts.ofType('usage_spike')).toBe('alerts.usage_spike');
    expect(streams).toEqual({ keyEvents: 'KEY_EVENTS', usageEvents: 'USAGE_EVENTS', alerts: 'ALERTS' });
  });

  it('moves every subject and stream under a prefix, so test files never share one', () => {
    const { subjects, streams } = namespace('t1-a');
    const all = JSON.stringify(subjects);
    expect(subjects.usageEvents).toBe('t1-a.events.usage');
    for (const subject of all.match(/"[^"]+"/g)!.filter((s) => s.includes('.'))) {
      expect(subject.startsWith('"t1-a.')).toBe(true);
    }
    expect(streams.keyEvents).toBe('t1_a_KEY_EVENTS');
  });

  it('refuses a prefix that would break subjects or stream names', () => {
    expect(() => namespace('a.b')).toThrow('may hold only');
    expect(() => namespace('a b')).toThrow('may hold only');
  });
});
