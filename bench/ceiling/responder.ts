import { connect } from '@nats-io/transport-node';
import { coalesceWrites } from '@keyplane/nats';

// The other half of scenario (d): answers every request at once, like an auth that decides in
// zero time. TUNED=1 coalesces its writes, as the stack's services do.
const nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' });
if (process.env.TUNED === '1') coalesceWrites(nc);
const reply = new TextEncoder().encode(JSON.stringify({ ok: true, value: { outcome: 'allowed' } }));
const sub = nc.subscribe(process.env.SUBJECT ?? 'bench.decide', { queue: 'bench' });
process.on('SIGTERM', () => void nc.drain().then(() => process.exit(0)));
console.log(JSON.stringify({ level: 30, msg: 'ready' }));
for await (const msg of sub) msg.respond(reply);
