import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { encodeJson } from '@keyplane/nats';
import { MeteringHarness } from './support/metering-harness.js';

const HOUR_NS = 3600e9;

describe('ALERTS stream retention (ALERT_STREAM_MAX_AGE_HOURS)', () => {
  let h: MeteringHarness;
  let jsm: JetStreamManager;
  const alerts = () => jsm.streams.info(h.ns.streams.alerts);

  beforeAll(async () => {
    h = await MeteringHarness.create('alert_stream_retention');
    jsm = await jetstreamManager(h.nc);
  });

  afterAll(async () => {
    await h.close();
  });

  it('gives a stream an earlier version made without a max age 30 days, keeping the alerts on it', async () => {
    // As metering made it before it owned a max age: no limit, JetStream's default duplicate window.
    await jsm.streams.add({ name: h.ns.streams.alerts, subjects: [h.ns.subjects.alerts.all] });
    await h.js.publish(h.ns.subjects.alerts.ofType('usage_spike'), encodeJson({ alertId: 'alt_before_upgrade' }), { msgID: 'alt_before_upgrade' });
    expect((await alerts()).config.max_age).toBe(0);

    await h.start();

    const { config, state } = await alerts();
    expect(config.max_age).toBe(720 * HOUR_NS);
    expect(config.duplicate_window).toBe(24 * HOUR_NS);
    expect(state.messages).toBe(1);
  });

  it('follows a new setting at the next start, down to the day-long duplicate window, and 0 lifts the limit', async () => {
    await h.stop();
    await h.start({ ALERT_STREAM_MAX_AGE_HOURS: '24' });
    expect((await alerts()).config).toMatchObject({ max_age: 24 * HOUR_NS, duplicate_window: 24 * HOUR_NS });

    await h.stop();
    await h.start({ ALERT_STREAM_MAX_AGE_HOURS: '0' });
    expect((await alerts()).config).toMatchObject({ max_age: 0, duplicate_window: 24 * HOUR_NS });
    expect((await alerts()).state.messages).toBe(1);
  });

  it('makes a missing stream with the max age set', async () => {
    await h.stop();
    await jsm.streams.delete(h.ns.streams.alerts);

    await h.start();

    expect((await alerts()).config).toMatchObject({ max_age: 720 * HOUR_NS, duplicate_window: 24 * HOUR_NS });
  });
});
