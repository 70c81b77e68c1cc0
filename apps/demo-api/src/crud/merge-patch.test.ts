import { z } from 'zod';
import { applyMergePatch, mergePatchSchema } from './merge-patch.js';

const Fields = z.strictObject({ name: z.string().min(1), note: z.string().optional() });

describe('merge patch', () => {
  const schema = mergePatchSchema(Fields);

  it('takes any subset of the fields, and null for an optional one', () => {
    expect(schema.parse({})).toEqual({});
    expect(schema.parse({ note: null })).toEqual({ note: null });
    expect(schema.parse({ name: 'n', note: 'x' })).toEqual({ name: 'n', note: 'x' });
  });

  it('refuses null for a required field, unknown fields, and the fields own checks', () => {
    expect(schema.safeParse({ name: null }).success).toBe(false);
    expect(schema.safeParse({ nmae: 'x' }).success).toBe(false);
    expect(schema.safeParse({ name: '' }).success).toBe(false);
  });

  it('removes a field set to null and replaces the others', () => {
    expect(applyMergePatch({ id: 'a', name: 'n', note: 'x' }, { note: null, name: 'm' })).toEqual({ id: 'a', name: 'm' });
    expect(applyMergePatch({ id: 'a', name: 'n' }, { note: null })).toEqual({ id: 'a', name: 'n' });
  });
});
