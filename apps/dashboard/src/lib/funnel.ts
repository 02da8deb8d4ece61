/** The candidate funnel of a run: one bar per step that weighed candidates, in tree order. */

export interface FunnelStep {
  id: string;
  name: string;
  candidatesIn: number;
  candidatesOut: number;
  candidatesStored?: number;
  children?: FunnelStep[];
}

export interface FunnelBar {
  id: string;
  name: string;
  depth: number;
  in: number;
  out: number;
  dropped: number;
  /** Fraction of the input eliminated (0..1), null when nothing came in. */
  elimination: number | null;
  /** Bar lengths as fractions of the largest input in the funnel. */
  inWidth: number;
  outWidth: number;
  flag: 'all-dropped' | 'most-dropped' | 'none-dropped' | null;
}

export function buildFunnel(steps: FunnelStep[]): FunnelBar[] {
  const picked: { s: FunnelStep; depth: number }[] = [];
  const walk = (list: FunnelStep[], depth: number) => {
    for (const s of list) {
      if (s.candidatesIn > 0) picked.push({ s, depth });
      if (s.children?.length) walk(s.children, depth + 1);
    }
  };
  walk(steps, 0);
  const max = Math.max(1, ...picked.map((p) => p.s.candidatesIn));
  return picked.map(({ s, depth }) => {
    const dropped = Math.max(0, s.candidatesIn - s.candidatesOut);
    const elimination = s.candidatesIn > 0 ? dropped / s.candidatesIn : null;
    return {
      id: s.id,
      name: s.name,
      depth,
      in: s.candidatesIn,
      out: s.candidatesOut,
      dropped,
      elimination,
      inWidth: s.candidatesIn / max,
      outWidth: s.candidatesOut / max,
      flag: elimination === null ? null : elimination === 1 ? 'all-dropped' : elimination >= 0.9 ? 'most-dropped' : elimination === 0 ? 'none-dropped' : null,
    };
  });
}

/** `in → out (−x%)`, the badge every step with candidates carries. */
export function countsBadge(candidatesIn: number, candidatesOut: number): string {
  if (candidatesIn <= 0 && candidatesOut <= 0) return '';
  const pct = candidatesIn > 0 ? Math.round(((candidatesIn - candidatesOut) / candidatesIn) * 100) : 0;
  return `${fmtInt(candidatesIn)} → ${fmtInt(candidatesOut)} (−${pct}%)`;
}

export function fmtInt(n: number): string {
  return n.toLocaleString('en-US');
}
