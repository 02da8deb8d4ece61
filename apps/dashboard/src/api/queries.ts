import { useQuery } from '@tanstack/react-query';
import { groupScores, type GroupedScores, type Score } from '../lib/scores.js';
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

/** Most scores of one run the dashboard loads (pages of 500). */
export const RUN_SCORES_LIMIT = 5000;

/**
 * Every score of a run (its own, its steps', its candidates'), grouped by what they judge:
 * `listScores?runId=` paged, so one request serves the header, the step tree and the candidates.
 */
export function useRunScores(runId: string) {
  return useQuery({
    queryKey: ['scores', runId],
    queryFn: async (): Promise<GroupedScores & { all: Score[]; more: boolean }> => {
      const all: Score[] = [];
      let cursor: string | undefined;
      do {
        const page = await call(sdk.listScores({ client: api, query: { runId, limit: 500, cursor } }));
        all.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor && all.length < RUN_SCORES_LIMIT);
      return { ...groupScores(all), all, more: Boolean(cursor) };
    },
  });
}
