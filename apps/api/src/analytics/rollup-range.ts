const HOUR = 3_600_000;
const DAY = 86_400_000;

const floorTo = (t: number, size: number) => Math.floor(t / size) * size;
const ceilTo = (t: number, size: number) => Math.ceil(t / size) * size;

/** Where a range of whole hours is read from: whole UTC days from the daily rollup, the rest hourly. */
export interface RollupSpans {
  days: [Date, Date];
  headHours: [Date, Date];
  tailHours: [Date, Date];
}

/**
 * Splits [start, end), both on hour boundaries, into the whole days inside it and the hours
 * before and after them; with `useDays` false (or no whole day inside), all of it is hours.
 * Empty spans have equal ends.
 */
export function rollupSpans(start: number, end: number, useDays: boolean): RollupSpans {
  const d0 = ceilTo(start, DAY);
  const d1 = floorTo(end, DAY);
  const spans = (a: number, b: number, c: number) => ({
    days: [new Date(a), new Date(b)] as [Date, Date],
    headHours: [new Date(start), new Date(a)] as [Date, Date],
    tailHours: [new Date(b), new Date(c)] as [Date, Date],
  });
  if (!useDays || d0 >= d1) return spans(end, end, end);
  return spans(d0, d1, end);
}

/** The steps' view of a range: widened to whole hours (step rollups have no finer grain). */
export function stepSpans(from: Date, to: Date): RollupSpans {
  return rollupSpans(floorTo(from.getTime(), HOUR), ceilTo(to.getTime(), HOUR), true);
}

/**
 * The runs' view of a range, exact: the partial hours at its edges come from the runs table,
 * the whole hours between from the rollups (whole days too when `useDays`).
 */
export function runSpans(from: Date, to: Date, useDays: boolean): { spans: RollupSpans; rawHead: [Date, Date]; rawTail: [Date, Date] } {
  const h0 = ceilTo(from.getTime(), HOUR);
  const h1 = floorTo(to.getTime(), HOUR);
  if (h0 >= h1) return { spans: rollupSpans(h0, h0, false), rawHead: [from, to], rawTail: [to, to] };
  return { spans: rollupSpans(h0, h1, useDays), rawHead: [from, new Date(h0)], rawTail: [new Date(h1), to] };
}
