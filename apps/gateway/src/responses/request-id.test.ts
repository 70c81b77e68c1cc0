import { requestIdFrom } from './request-id.js';

describe('requestIdFrom', () => {
  it("keeps a client's sane token", () => {
    expect(requestIdFrom('abc-123_x.y:z')).toBe('abc-123_x.y:z');
    expect(requestIdFrom('a'.repeat(128))).toBe('a'.repeat(128));
  });

  it.each([
    [undefined],
    [''],
    ['a'.repeat(129)],
    ['has space'],
    ['<script>'],
    ['line\nbreak'],
    [['a', 'b']],
    ['tv_live_000000000000000000000000000000004XD7Ne'],
    ['retry-2.sk_test_000000000000000000000000000000004XD7Ne'],
  ])('replaces %p', (header) => {
    expect(requestIdFrom(header)).toMatch(/^req_[0-9a-f-]{36}$/);
  });
});
