/** Upper bounds (seconds) of the request latency histogram's buckets. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The route label of a request no route matched (unknown paths, answers before routing). */
export const UNMATCHED_ROUTE = '(unmatched)';

class Series {
  count = 0;
  sum = 0;
  /** Per bucket, not cumulative; the last slot is +Inf. */
  readonly buckets = new Float64Array(LATENCY_BUCKETS.length + 1);
}

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/**
 * Request counts and latency by method, route template and status, kept in plain numbers:
 * observing a request does three Map lookups on strings and a number the request already has
 * (method, route template, status) and adds to a preallocated series. Nothing is allocated
 * per request except a new series the first time a combination is seen (the label set is
 * bounded: route templates, not paths). prom-client's own histogram builds a label hash string
 * on every observation; these series are turned into prom-client metric values only when
 * scraped, by the two collectors below, registered in the same registry.
 */
export class RequestMetrics {
  private readonly routes = new Map<string, Map<string, Map<number, Series>>>();

  observe(method: string, route: string | undefined, status: number, seconds: number): void {
    const template = route ?? UNMATCHED_ROUTE;
    let methods = this.routes.get(template);
    if (methods === undefined) this.routes.set(template, (methods = new Map()));
    let statuses = methods.get(method);
    if (statuses === undefined) methods.set(method, (statuses = new Map()));
    let series = statuses.get(status);
    if (series === undefined) statuses.set(status, (series = new Series()));
    series.count++;
    series.sum += seconds;
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]) i++;
    series.buckets[i]++;
  }

  private *each(): Generator<[Record<string, string>, Series]> {
    for (const [route, methods] of this.routes) {
      for (const [method, statuses] of methods) {
        for (const [status, series] of statuses) yield [{ method, route, status: String(status) }, series];
      }
    }
  }

  /** `xray_http_requests_total`, a prom-client custom metric (read at scrape time). */
  readonly counter = {
    name: 'xray_http_requests_total',
    help: 'HTTP requests answered, by method, route template and status.',
    type: 'counter',
    aggregator: 'sum',
    get: async () => ({ ...this.counter, values: [...this.each()].map(([labels, s]): MetricValue => ({ labels, value: s.count })) }),
  };

  /** `xray_http_request_duration_seconds`, a prom-client custom metric (read at scrape time). */
  readonly histogram = {
    name: 'xray_http_request_duration_seconds',
    help: 'HTTP request latency from arrival to the end of the answer, by method, route template and status.',
    type: 'histogram',
    aggregator: 'sum',
    get: async () => {
      const values: MetricValue[] = [];
      for (const [labels, s] of this.each()) {
        let cumulative = 0;
        LATENCY_BUCKETS.forEach((le, i) => {
          cumulative += s.buckets[i];
          values.push({ metricName: `${this.histogram.name}_bucket`, labels: { ...labels, le }, value: cumulative });
        });
        values.push({ metricName: `${this.histogram.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: s.count });
        values.push({ metricName: `${this.histogram.name}_sum`, labels, value: s.sum });
        values.push({ metricName: `${this.histogram.name}_count`, labels, value: s.count });
      }
      return { ...this.histogram, values };
    },
  };
}
