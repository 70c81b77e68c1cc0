/** What the gateway adds to a proxied request; the demo API serves no request without it. */
export const DEMO_TENANT_HEADERS: Record<string, string> = {
  'x-keyplane-environment': 'live',
  'x-keyplane-account-id': 'acc_root',
  'x-keyplane-key-id': 'key_bench',
};
