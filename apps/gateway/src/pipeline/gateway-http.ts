import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import replyFrom from '@fastify/reply-from';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Readiness, type Logger } from '@keyplane/observability';
import { AuthDecider } from '../authentication/auth-decider.js';
import { clientAddressOf } from '../client-address/client-address.js';
import type { GatewayConfig } from '../config.js';
import { loadDashboard } from '../dashboard/dashboard.js';
import { ManagementApi } from '../management/management-api.js';
import { GatewayMetrics } from '../ops/gateway-metrics.js';
import { proxyToUpstream, UPSTREAM_CONNECTIONS } from '../proxy/upstream.js';
import { errorBody } from '../responses/error-body.js';
import { RouteMatcher } from '../routes/route-matcher.js';
import { GATEWAY_CONFIG, LOGGER } from '../tokens.js';
import { authorize } from './authorize.js';
import { answerClientErrorsWithJson } from './client-errors.js';
import { answerConnectWithJson } from './connect-requests.js';
import { holdBackContinue, refuseOtherExpectations } from './expect-continue.js';
import { dispatch } from './dispatch.js';
import { jsonErrorHandler } from './error-handler.js';
import './gateway-request.js';
import { leaveHostCheckToGateway, refuseMissingHost } from './host-header.js';
import { routeEveryHttpMethod } from './http-methods.js';
import { refuseRewrittenTargets } from './request-target.js';
import { sendJson } from './send-json.js';
import { refuseUnknownTransferCodings } from './transfer-codings.js';
import { closeAfterUpgradeRequests } from './upgrade-requests.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * The public HTTP surface, as plain Fastify routes and hooks rather than Nest controllers:
 * every `/v1` request pays for one hook and one handler, not an interceptor chain.
 * Registered in its own plugin so its body parsing, error handler and 404s apply to it alone.
 */
@Injectable()
export class GatewayHttp implements OnModuleInit {
  constructor(
    @Inject(HttpAdapterHost) private readonly host: HttpAdapterHost,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(RouteMatcher) private readonly matcher: RouteMatcher,
    @Inject(AuthDecider) private readonly decider: AuthDecider,
    @Inject(ManagementApi) private readonly management: ManagementApi,
    @Inject(GatewayMetrics) private readonly metrics: GatewayMetrics,
    @Inject(Readiness) private readonly readiness: Readiness,
  ) {}

  onModuleInit(): void {
    const fastify = this.host.httpAdapter.getInstance<FastifyInstance>();
    const { countUnrouted } = this.metrics;
    answerClientErrorsWithJson(fastify.server, countUnrouted);
    answerConnectWithJson(fastify.server, countUnrouted);
    holdBackContinue(fastify.server);
    refuseOtherExpectations(fastify.server, countUnrouted);
    leaveHostCheckToGateway(fastify.server);
    closeAfterUpgradeRequests(fastify.server);
    fastify.server.on('drop', () => this.metrics.connectionsDropped.inc());
    this.metrics.countOpenConnections(() => new Promise((resolve) => fastify.server.getConnections((error, count) => resolve(error ? Number.NaN : count))));
    routeEveryHttpMethod(fastify);
    // On the root, not in the routes' plugin: answers Fastify gives outside it (a malformed
    // percent-encoding, a path parameter too long) are counted too.
    fastify.addHook('onResponse', (request, reply, done) => {
      this.metrics.requests.inc({ route: routeLabel(request), status: reply.statusCode });
      done();
    });
    void fastify.register((app, _options, done) => {
      this.routes(app).then(() => done(), done);
    });
  }

  private async routes(app: FastifyInstance): Promise<void> {
    const { config, logger, matcher, metrics } = this;
    // Bodies are buffered as bytes (within the limit): proxied as they came, parsed as JSON only by management handlers.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT_BYTES }, (_request, body, done) => done(null, body));
    app.decorateRequest('gateway', null);
    app.setErrorHandler(jsonErrorHandler(logger, BODY_LIMIT_BYTES));
    app.addHook('onRequest', refuseMissingHost);
    app.addHook('onRequest', refuseRewrittenTargets);
    app.addHook('onRequest', refuseUnknownTransferCodings);
    await app.register(replyFrom, { base: config.upstreamUrl, disableRequestLogging: true, undici: UPSTREAM_CONNECTIONS });

    const dashboard = loadDashboard();
    const sendDashboard = (_request: FastifyRequest, reply: FastifyReply) => reply.headers(dashboard.headers).send(dashboard.html);
    app.get('/', sendDashboard);
    app.get('/index.html', sendDashboard);
    app.get('/healthz', (_request, reply) => sendJson(reply, 200, '{"status":"ok"}'));
    app.get('/readyz', async (_request, reply) => {
      const report = await this.readiness.report();
      return sendJson(reply, report.ready ? 200 : 503, JSON.stringify({ status: report.ready ? 'ready' : 'not ready', checks: report.checks }));
    });

    const onRequest = authorize({ matcher, decider: this.decider, metrics, keyPrefix: config.keyPrefix, clientAddress: clientAddressOf(config.trustedProxies) });
    const handler = dispatch({ matcher, management: this.management, proxy: proxyToUpstream({ upstreamUrl: config.upstreamUrl, metrics, logger, timeoutMs: config.upstreamTimeoutMs }) });
    app.all('/v1', { onRequest }, handler);
    app.all('/v1/*', { onRequest }, handler);
    app.all('/*', (request, reply) => sendJson(reply, 404, errorBody(404, `No route for ${request.method} ${request.url.split('?')[0]}`)));
  }
}

function routeLabel(request: FastifyRequest): string {
  if (request.gateway) return request.gateway.match?.route.label ?? 'unmatched';
  const url = request.routeOptions.url;
  // A /v1 request refused before `authorize` (its target) was matched to no route either.
  if (url === '/v1' || url === '/v1/*') return 'unmatched';
  return url === '/*' || url === undefined ? 'not_found' : `${request.method} ${url}`;
}
