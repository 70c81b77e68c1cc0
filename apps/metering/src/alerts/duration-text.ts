/** "1 minute", "10 minutes", "90 seconds": window lengths as a person would say them in a summary. */
export function durationText(seconds: number): string {
  const [amount, unit] = seconds % 60 === 0 ? [seconds / 60, 'minute'] : [seconds, 'second'];
  return `${amount} ${unit}${amount === 1 ? '' : 's'}`;
}
