import { isDataError } from './database-errors.js';

describe('isDataError', () => {
  it('is true only for data the database refuses', () => {
    expect(['22021', '22003', '23502', '54000'].map((code) => isDataError({ code }))).toEqual([true, true, true, true]);
  });

  it('is false for failures a retry may cure', () => {
    expect([{ code: '08006' }, { code: '40P01' }, { code: '57P01' }, { code: 'ECONNREFUSED' }, new Error('boom'), null].map(isDataError)).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
  });
});
