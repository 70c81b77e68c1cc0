import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';

// JSON is UTF-8 (RFC 8259 §8.1); a lenient decode would store U+FFFD in place of the bytes sent.
const UTF8 = new TextDecoder('utf-8', { fatal: true });

const notUtf8 = () => Object.assign(new Error('Request body is not valid UTF-8'), { statusCode: 400 });

/**
 * Bodies are JSON only, in UTF-8. Nest registers a form parser and Fastify a plain-text one, so
 * `name=a` as a form created a flow, and JSON sent as `text/plain` was a 400 about a string;
 * without them both are the 415 `Content-Type must be application/json` of every other type.
 * The JSON parser stays Fastify's (prototype poisoning refused), given text decoded strictly.
 * Runs after Nest registered its parsers, before the server is ready.
 */
@Injectable()
export class JsonBodiesOnly implements OnModuleInit {
  constructor(@Inject(HttpAdapterHost) private readonly host: HttpAdapterHost) {}

  onModuleInit(): void {
    const fastify = this.host.httpAdapter.getInstance<FastifyInstance>();
    const parseJson = fastify.getDefaultJsonParser('error', 'error');
    fastify.removeContentTypeParser(['application/x-www-form-urlencoded', 'text/plain', 'application/json']);
    fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
      let text: string;
      try {
        text = UTF8.decode(body as Buffer);
      } catch {
        return done(notUtf8(), undefined);
      }
      parseJson(request, text, done);
    });
  }
}
