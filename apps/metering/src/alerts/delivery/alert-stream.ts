import type { Namespace } from '@keyplane/contracts';
import type { StreamSpec } from '@keyplane/nats';

/**
 * The ALERTS stream, whose limits metering owns. An alert is published after it is stored and
 * marked published after the publish, so a crash in between publishes it again on restart; its
 * msgID (the alert id) drops that copy only within the duplicate window, which must outlast a
 * restart however late it comes: a day, not JetStream's default two minutes.
 */
export const alertStream = (ns: Namespace): StreamSpec => ({ name: ns.streams.alerts, subjects: [ns.subjects.alerts.all], duplicateWindowSeconds: 86_400 });
