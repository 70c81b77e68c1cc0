/** What each detector counts as anomalous; every value comes from an env var (README lists them). */
export interface AlertThresholds {
  /** usage_spike: the hour must reach this many requests at all... */
  spikeMinRequests: number;
  /** ...be at least this many times the key's median hour... */
  spikeFactor: number;
  /** ...and exceed the median by this many median absolute deviations. */
  spikeMadK: number;
  /** usage_spike: hours with traffic among the previous 24 before a key has a baseline. */
  spikeMinHistoryHours: number;
  /** auth_failure_burst: 401s from one client address within the window. */
  authFailureThreshold: number;
  authFailureWindowSeconds: number;
  /** permission_probe: 403s on one key within the window. */
  permissionProbeThreshold: number;
  permissionProbeWindowSeconds: number;
  /** new_source: a key is established once its first known address is this old... */
  newSourceMinAgeMinutes: number;
  /** ...or once it has made this many requests. */
  newSourceMinRequests: number;
  /** new_source: alerts per key and UTC hour, however many new addresses it is used from. */
  newSourceMaxPerHour: number;
}

export const DEFAULT_THRESHOLDS: AlertThresholds = {
  spikeMinRequests: 100,
  spikeFactor: 3,
  spikeMadK: 5,
  spikeMinHistoryHours: 6,
  authFailureThreshold: 20,
  authFailureWindowSeconds: 60,
  permissionProbeThreshold: 10,
  permissionProbeWindowSeconds: 600,
  newSourceMinAgeMinutes: 60,
  newSourceMinRequests: 100,
  newSourceMaxPerHour: 5,
};
