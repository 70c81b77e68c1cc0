import fc from 'fast-check';
import { PERMISSIONS } from './catalog.js';
import { validatePermissions } from './validate.js';

describe('validatePermissions', () => {
  it('accepts catalog permissions and keeps their order', () => {
    expect(validatePermissions(['RECORDS:WRITE', 'FLOWS:READ'])).toEqual({ ok: true, value: ['RECORDS:WRITE', 'FLOWS:READ'] });
  });

  it('returns a copy, not the caller’s array', () => {
    const input = ['FLOWS:READ'];
    const result = validatePermissions(input);
    expect(result.ok && result.value).not.toBe(input);
  });

  it('rejects an empty list', () => {
    expect(validatePermissions([])).toEqual({ ok: false, details: 'permissions: must grant at least one permission' });
  });

  it('names the first unknown permission by index', () => {
    expect(validatePermissions(['FLOWS:READ', 'FLOW:READ', 'NOPE'])).toEqual({
      ok: false,
      details: 'permissions[1]: unknown permission "FLOW:READ"',
    });
  });

  it('quotes bad values JSON-style', () => {
    expect(validatePermissions(['say "hi"\n'])).toEqual({ ok: false, details: 'permissions[0]: unknown permission "say \\"hi\\"\\n"' });
  });

  it('rejects duplicates at the index of the repeat', () => {
    expect(validatePermissions(['FLOWS:READ', 'RECORDS:READ', 'FLOWS:READ'])).toEqual({
      ok: false,
      details: 'permissions[2]: duplicate permission "FLOWS:READ"',
    });
  });

  it('rejects non-strings and non-arrays from untyped callers', () => {
    expect(validatePermissions(['FLOWS:READ', 7])).toEqual({ ok: false, details: 'permissions[1]: must be a string' });
    expect(validatePermissions('FLOWS:READ' as unknown as string[])).toEqual({ ok: false, details: 'permissions: must be an array' });
  });

  it('accepts exactly the non-empty duplicate-free catalog lists', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constantFrom(...PERMISSIONS), fc.string()), { maxLength: 20 }), (input) => {
        const expected = input.length > 0 && new Set(input).size === input.length && input.every((p) => (PERMISSIONS as readonly string[]).includes(p));
        const result = validatePermissions(input);
        expect(result.ok).toBe(expected);
        if (result.ok) expect(result.value).toEqual(input);
      }),
    );
  });
});
