import { EnvReader, readListenerConfig, type ListenerConfig } from '@keyplane/runtime';

export type DemoApiConfig = ListenerConfig;

/** The demo API is HTTP only: it listens on `PORT` (8090) behind the gateway and never touches NATS. */
export function loadDemoApiConfig(env: NodeJS.ProcessEnv): DemoApiConfig {
  const read = new EnvReader(env);
  return readListenerConfig(read, 8090, { port: 'PORT', host: 'HOST' });
}
