import autocannon from 'autocannon';

export interface LoadResult {
  name: string;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

export interface LoadOptions {
  name: string;
  url: string;
  durationSeconds: number;
  /** Stop after this many requests, however long they take, instead of after `durationSeconds`. */
  amount?: number;
  connections: number;
  /** Authorization headers to rotate through, one per request; none for unauthenticated targets. */
  keys?: string[];
  /** Headers sent with every request. */
  headers?: Record<string, string>;
}

export async function runLoad({ name, url, durationSeconds, amount, connections, keys, headers }: LoadOptions): Promise<LoadResult> {
  // One prebuilt request per key, which every connection cycles through: a setupRequest
  // hook would rebuild each request in JavaScript, load-generator CPU that the ceiling (d)
  // does not spend, on the same two cores as the services.
  const requests = keys?.map((key) => ({ headers: { ...headers, authorization: `Bearer ${key}` } }));
  let made = 0;
  const result = await autocannon({
    url,
    connections,
    duration: durationSeconds,
    amount,
    headers,
    requests,
    // Each connection starts at its own place in the list. Started together at the first key,
    // the connections walked the keys in step, and each key got all of them at once: bursts of
    // one hot key after another, where many keys means many clients each with its own pace.
    setupClient: requests
      ? (client) => {
          const offset = Math.floor((made++ * requests.length) / connections) % requests.length;
          client.setRequests([...requests.slice(offset), ...requests.slice(0, offset)].map((request) => ({ headers: request.headers })));
        }
      : undefined,
  });
  return {
    name,
    requestsPerSecond: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}
