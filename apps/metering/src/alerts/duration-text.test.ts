import { durationText } from './duration-text.js';

describe('durationText', () => {
  it('says minutes when it can', () => {
    expect([1, 60, 600, 90].map(durationText)).toEqual(['1 second', '1 minute', '10 minutes', '90 seconds']);
  });
});
