import { pipelineAnalyticsOf } from './pipeline-analytics.js';

describe('pipelineAnalyticsOf', () => {
  it('gives every bucket of the range its runs by status, empty buckets included', () => {
    const at = (h: number) => new Date(Date.UTC(2026, 10, 30, h));
    const answer = pipelineAnalyticsOf(
      'competitor-selection',
      { from: at(9), to: at(12), bucket: 'hour' },
      {
        runs: [
          { start: at(9), status: 'success', n: 10 },
          { start: at(9), status: 'error', n: 1 },
          { start: at(11), status: 'timed_out', n: 2 },
          { start: at(11), status: 'running', n: 3 },
        ],
        steps: [],
        reasons: [],
        durations: [],
      },
    );
    const none = { running: 0, success: 0, error: 0, cancelled: 0, timed_out: 0 };
    expect(answer.timeSeries.points).toEqual([
      { start: at(9).toISOString(), runs: 11, errors: 1, byStatus: { ...none, success: 10, error: 1 } },
      { start: at(10).toISOString(), runs: 0, errors: 0, byStatus: none },
      { start: at(11).toISOString(), runs: 5, errors: 2, byStatus: { ...none, timed_out: 2, running: 3 } },
    ]);
    expect(answer.runs).toEqual({ total: 16, byStatus: { ...none, success: 10, error: 1, timed_out: 2, running: 3 }, errorRate: 3 / 13 });
  });
});
