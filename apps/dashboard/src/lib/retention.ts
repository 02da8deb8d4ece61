/** The largest retention the API takes, in days (100 years). */
export const MAX_RETENTION_DAYS = 36_500;

/** What a project's retention means, in a sentence. */
export function describeRetention(days: number | null): string {
  if (days === null) return 'The server’s default applies (XRAY_RETENTION_DAYS; unset keeps runs until they are deleted).';
  return `Runs are deleted ${days} day${days === 1 ? '' : 's'} after they start, with their steps and candidates.`;
}

/** Reads the days typed into the retention field: a whole number from 1 to MAX_RETENTION_DAYS. */
export function parseRetentionDays(text: string): { days: number } | { error: string } {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) return { error: 'Enter a whole number of days.' };
  const days = Number(trimmed);
  if (days < 1 || days > MAX_RETENTION_DAYS) return { error: `Enter from 1 to ${MAX_RETENTION_DAYS} days.` };
  return { days };
}
