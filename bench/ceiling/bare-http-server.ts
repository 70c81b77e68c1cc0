import { createServer } from 'node:http';

// A bare `node:http` server that answers every request at once with a small JSON body: what
// the machine itself costs per request, with no framework and no hop behind it.
const body = JSON.stringify({ data: [] });
createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(body);
}).listen(Number(process.env.PORT ?? 18096), '127.0.0.1');
