/**
 * A log line for a failure that can come with every request (auth's quota store away, no auth
 * replica answering): the first is written at once, then at most one per `intervalMs`, saying
 * how many it stands for. A line per request would cost the most exactly when the service is in
 * trouble, and bury what else it says.
 */
export function throttled(intervalMs: number, now: () => number = performance.now.bind(performance)): (write: (suppressed: number) => void) => void {
  let lastAt = Number.NEGATIVE_INFINITY;
  let suppressed = 0;
  return (write) => {
    const at = now();
    if (at - lastAt < intervalMs) {
      suppressed++;
      return;
    }
    lastAt = at;
    write(suppressed);
    suppressed = 0;
  };
}
