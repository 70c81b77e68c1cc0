import { checkReachable, stackDependencies, type Dependency } from './preflight.js';
import { startProcess, stopAll, waitReady, type Running } from './process-group.js';
import { stackServices, type ServiceSpec } from './services.js';

// `npm start`: the whole stack on one machine against the Postgres and NATS at the defaults.

const logDir = process.env.KEYPLANE_LOG_DIR ?? 'logs';

function cannotStart(problems: string[]): never {
  console.error(`Keyplane cannot start:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}

async function main(): Promise<void> {
  let services: ServiceSpec[];
  let dependencies: Dependency[];
  try {
    services = stackServices(process.env);
    dependencies = stackDependencies(process.env);
  } catch (error) {
    cannotStart([(error as Error).message]);
  }
  const problems = (await Promise.all(dependencies.map(checkReachable))).filter((problem) => problem !== null);
  if (problems.length > 0) cannotStart(problems);

  const running: Running[] = [];
  let bootstrapKey: string | undefined;
  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log('\nStopping Keyplane...');
    await stopAll(running);
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  for (const spec of services) {
    const service = startProcess(spec, logDir, (line) => {
      if (typeof line.bootstrapAdminKey === 'string') bootstrapKey = line.bootstrapAdminKey;
    });
    running.push(service);
    void service.exited.then((code) => {
      if (!stopping) {
        console.error(`${spec.name} exited with code ${code}; stopping the stack (logs in ${logDir}/${spec.name}.log)`);
        void shutdown(1);
      }
    });
    try {
      await waitReady(service, 60_000);
    } catch (error) {
      console.error(String((error as Error).message));
      await shutdown(1);
      return;
    }
    console.log(`  ${spec.name.padEnd(9)} ready`);
  }

  const gateway = running.at(-1)!.spec;
  console.log(`\nKeyplane is running: http://127.0.0.1:${gateway.readyPort}`);
  console.log(`Logs: ${logDir}/<service>.log   Stop: Ctrl-C`);
  if (bootstrapKey) {
    console.log('\nBootstrap admin key (shown once; store it now):');
    console.log(`  ${bootstrapKey}`);
    console.log(`\nTry: curl -H "Authorization: Bearer ${bootstrapKey}" http://127.0.0.1:${gateway.readyPort}/v1/api-keys`);
  }
}

void main();
