import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** The value of one of the theme's CSS variables (`--fg-soft`, `--ok`, …), read when a chart is drawn. */
export type ThemeColor = (variable: string) => string;

/** What a chart draws: uPlot's options but its size (the box sets that), and the data. */
export interface UplotPlot {
  options: Omit<uPlot.Options, 'width' | 'height'>;
  data: uPlot.AlignedData;
}

/** An axis in the theme's colours. */
export const themeAxis = (color: ThemeColor): uPlot.Axis => ({
  stroke: color('--fg-soft'),
  grid: { stroke: color('--border') },
  ticks: { stroke: color('--border') },
});

/**
 * A uPlot chart (canvas) in a box as wide as the page gives it (300px at least) and `height`
 * tall, resized with the window. `draw` says what to plot (null: nothing); the chart is drawn
 * again whenever `draw` is a new function, so callers keep it in a useCallback. For screen
 * readers the box is an image described by `label`.
 */
export function UplotChart({ height, draw, label, testId }: { height: number; draw: (color: ThemeColor) => UplotPlot | null; label: string; testId: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const css = getComputedStyle(document.documentElement);
    const plotted = draw((v) => css.getPropertyValue(v).trim());
    if (!plotted) return;
    const plot = new uPlot({ ...plotted.options, width: Math.max(300, el.clientWidth), height }, plotted.data, el);
    const onResize = () => plot.setSize({ width: Math.max(300, el.clientWidth), height });
    window.addEventListener('resize', onResize);
    return () => {
      window.removeEventListener('resize', onResize);
      plot.destroy();
    };
  }, [draw, height]);
  return <div className="chart" ref={box} role="img" aria-label={label} data-testid={testId} />;
}
