import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { endWithAnswer } from './end-with-answer.js';
import { answerOn, lastRequestOn } from './http-socket.js';

/** Sockets already waiting to send their last answer: Node reports each later parse error again. */
const waiting = new WeakSet<Duplex>();

/**
 * Sends a connection's last answer (`send`) for a request Node refused or handed over before
 * Fastify (a parse error, a timeout, CONNECT), in its turn. A pipelining client reads answers in
 * the order it sent its requests, so an error answer sent while an earlier request is still owed
 * its answer is read as that request's: the client would take a 400 for the answer to a POST
 * the upstream may well have carried out. So the owed answers go first. When the error is in
 * the body of a request Node already handed over, the answer goes in that request's place; if
 * that request was answered already (a 401 that did not wait for its body), the connection is
 * only closed: a second answer to one request would be read as the next one's.
 */
export function answerInTurn(socket: Duplex, send: () => void): void {
  if (waiting.has(socket)) return;
  const parsing = lastRequestOn(socket);
  const broken = parsing && !parsing.complete ? parsing : null;
  waiting.add(socket);
  afterEarlierAnswers(socket, broken, (brokenAnswered) => {
    if (!socket.writable) socket.destroy();
    else if (brokenAnswered) endWithAnswer(socket, '');
    else send();
  });
}

function afterEarlierAnswers(socket: Duplex, broken: IncomingMessage | null, done: (brokenAnswered: boolean) => void): void {
  const owed = answerOn(socket);
  // Every answer is out: the broken request's, if there is one, among them.
  if (!owed) return done(broken !== null);
  if (owed.req === broken && !owed.headersSent) return done(false);
  // Node hands the socket to the next owed answer on 'finish', before 'close'.
  owed.once('close', () => {
    if (!socket.destroyed) afterEarlierAnswers(socket, broken, done);
  });
}
