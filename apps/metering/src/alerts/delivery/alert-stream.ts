import type { Namespace } from '@keyplane/contracts';
import type { StreamSpec } from '@keyplane/nats';

/**
 * The duplicate window. An alert is published after it is stored and marked published after the
 * publish, so a crash in between publishes it again on restart; its msgID (the alert id) drops
 * that copy only within the window, which must outlast a restart however late it comes: a day,
 * not JetStream's default two minutes.
 */
const DUPLICATE_WINDOW_HOURS = 24;

/**
 * 30 days. Postgres is where alerts are kept; the stream only feeds subscribers of `alerts.>`,
 * and without a limit it would hold every alert ever raised.
 */
export const DEFAULT_ALERT_STREAM_MAX_AGE_HOURS = 720;

/** JetStream refuses a duplicate window longer than the max age, so a limit shorter than the window could never be set. */
export const MIN_ALERT_STREAM_MAX_AGE_HOURS = DUPLICATE_WINDOW_HOURS;

/** The ALERTS stream, whose limits metering owns (ALERT_STREAM_MAX_AGE_HOURS; 0 keeps alerts forever). */
export const alertStream = (ns: Namespace, maxAgeHours = DEFAULT_ALERT_STREAM_MAX_AGE_HOURS): StreamSpec => ({
  name: ns.streams.alerts,
  subjects: [ns.subjects.alerts.all],
  maxAgeSeconds: maxAgeHours * 3600,
  duplicateWindowSeconds: DUPLICATE_WINDOW_HOURS * 3600,
});
