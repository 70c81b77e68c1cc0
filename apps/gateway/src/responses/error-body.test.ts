import { errorBody } from './error-body.js';

describe('errorBody', () => {
  it('writes the DESIGN §6 bodies', () => {
    expect(errorBody(401, 'Invalid or missing API key')).toBe('{"error":"Unauthorized","details":"Invalid or missing API key"}');
    expect(errorBody(403, 'Missing required permission: FLOWS:WRITE')).toBe(
      '{"error":"Forbidden","details":"Missing required permission: FLOWS:WRITE"}',
    );
    expect(errorBody(429, 'Hourly limit of 1000 requests reached')).toBe(
      '{"error":"Rate limit exceeded","details":"Hourly limit of 1000 requests reached"}',
    );
    expect(errorBody(503, 'Authorization service unavailable')).toBe(
      '{"error":"Service Unavailable","details":"Authorization service unavailable"}',
    );
    expect(errorBody(502, 'Upstream unavailable')).toBe('{"error":"Bad Gateway","details":"Upstream unavailable"}');
    expect(errorBody(404, 'x')).toBe('{"error":"Not Found","details":"x"}');
  });

  it('keeps a title given by a service reply', () => {
    expect(errorBody(409, 'busy', 'Conflict')).toBe('{"error":"Conflict","details":"busy"}');
  });

  it('escapes details as JSON', () => {
    expect(JSON.parse(errorBody(400, 'permissions[1]: unknown permission "FLOW:READ"'))).toEqual({
      error: 'Bad Request',
      details: 'permissions[1]: unknown permission "FLOW:READ"',
    });
  });
});
