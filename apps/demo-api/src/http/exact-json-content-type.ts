import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';

/**
 * DESIGN §6 promises `Content-Type: application/json` byte for byte; Fastify appends
 * `; charset=utf-8` to JSON it serializes, and the gateway passes upstream headers through.
 */
@Injectable()
export class ExactJsonContentType implements OnModuleInit {
  constructor(@Inject(HttpAdapterHost) private readonly host: HttpAdapterHost) {}

  onModuleInit(): void {
    const fastify = this.host.httpAdapter.getInstance<FastifyInstance>();
    fastify.addHook('onSend', (_request, reply, payload, done) => {
      if (reply.getHeader('content-type') === 'application/json; charset=utf-8') reply.header('content-type', 'application/json');
      done(null, payload);
    });
  }
}
