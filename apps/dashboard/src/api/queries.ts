import { useQuery } from '@tanstack/react-query';
import { api, call } from './client.js';
import * as sdk from './sdk.js';

export interface PipelineSummary {
  name: string;
  runCount: number;
  lastRunAt: string | null;
}

/** Pipelines of the project, for pickers (listPipelines). */
export function usePipelines() {
  return useQuery({
    queryKey: ['pipelines'],
    queryFn: async () => (await call(sdk.listPipelines({ client: api, query: { limit: 200 } }))).items as PipelineSummary[],
    staleTime: 60_000,
  });
}
