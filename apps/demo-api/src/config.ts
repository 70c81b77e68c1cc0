import { EnvReader, readCommonConfig, type CommonConfig } from '@keyplane/runtime';

export type DemoApiConfig = CommonConfig;

/** The demo API is HTTP only: it listens on `PORT` (8090) behind the gateway and never touches NATS. */
export function loadDemoApiConfig(env: NodeJS.ProcessEnv): DemoApiConfig {
  const read = new EnvReader(env);
  return readCommonConfig(read, 8090, { port: 'PORT', host: 'HOST' });
}
