import { describe, expect, it } from 'vitest';
import { createClient } from '../api/sdk.js';
import { exportFileName, exportQuery } from './export.js';

describe('the runs list export', () => {
  const now = Date.parse('2026-01-08T00:00:00Z');
  // The URL the button's request goes to: the generated client builds it from the query.
  const url = (search: Parameters<typeof exportQuery>[0]) =>
    createClient({ baseUrl: '' }).buildUrl({ url: '/v1/export', query: { ...exportQuery(search, now) } });

  it('asks for the pipeline and time range of the list', () => {
    expect(url({})).toBe('/v1/export');
    expect(url({ pipeline: 'competitor-selection' })).toBe('/v1/export?pipeline=competitor-selection');
    expect(url({ pipeline: 'competitor-selection', range: '7d' })).toBe('/v1/export?pipeline=competitor-selection&from=2026-01-01T00%3A00%3A00.000Z');
    expect(url({ from: '2026-01-01T10:00:00Z', to: '2026-01-02T10:00:00Z' })).toBe(
      '/v1/export?from=2026-01-01T10%3A00%3A00.000Z&to=2026-01-02T10%3A00%3A00.000Z',
    );
  });

  it('leaves out what the export cannot filter, and bounds it cannot read', () => {
    expect(exportQuery({ pipeline: '', range: 'forever', from: 'garbage' }, now)).toEqual({});
    expect(url({ pipeline: 'rag answer/v2' })).toBe('/v1/export?pipeline=rag%20answer%2Fv2');
  });

  it('names the file after the pipeline and the time', () => {
    expect(exportFileName({ pipeline: 'competitor-selection' }, new Date(now))).toBe('xray-competitor-selection-2026-01-08T00-00-00.ndjson');
    expect(exportFileName({}, new Date(now))).toBe('xray-all-2026-01-08T00-00-00.ndjson');
    expect(exportFileName({ pipeline: 'rag answer/v2' }, new Date(now))).toBe('xray-rag_answer_v2-2026-01-08T00-00-00.ndjson');
  });
});
