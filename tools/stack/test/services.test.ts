import { stackServices } from '../services.js';

const demoApi = (env: NodeJS.ProcessEnv) => stackServices(env).find((service) => service.name === 'demo-api')!;

describe('the demo API npm start runs', () => {
  // It believes the X-Keyplane-* headers of whoever calls it, so on every interface anyone who
  // could reach its port could read and write any account's data.
  it('listens only on the host the gateway calls it at', () => {
    expect(demoApi({}).env).toEqual({ PORT: '8090', HOST: '127.0.0.1' });
    expect(demoApi({ UPSTREAM_URL: 'http://localhost:8091' }).env).toEqual({ PORT: '8091', HOST: 'localhost' });
    expect(demoApi({ UPSTREAM_URL: 'http://[::1]:8092' }).env).toEqual({ PORT: '8092', HOST: '::1' });
  });
});
