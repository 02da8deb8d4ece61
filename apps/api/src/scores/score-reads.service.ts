import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { ScoreDto } from './scores.dto.js';
import { ScoresRepository } from './scores.repository.js';
import { toScoreDto } from './scores.service.js';

/** Groups scores by a key of each, keeping their order. */
function groupBy(scores: ScoreDto[], keyOf: (s: ScoreDto) => string): Map<string, ScoreDto[]> {
  const out = new Map<string, ScoreDto[]>();
  for (const s of scores) {
    const k = keyOf(s);
    const list = out.get(k);
    if (list) list.push(s);
    else out.set(k, [s]);
  }
  return out;
}

/** The key of a candidate's scores in {@link ScoreReadsService.ofCandidates}' answer. */
export const candidateScoreKey = (stepId: string, key: string): string => `${stepId}\u0000${key}`;

/**
 * Scores as other answers show them (run details, steps, candidates, lineage): one query per
 * answer, whatever its number of steps or candidates, oldest score first.
 */
@Injectable()
export class ScoreReadsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly repository: ScoresRepository,
  ) {}

  /** A run's own scores, and its steps' own scores by step id. */
  async ofRun(projectId: string, run: { id: string; startedAt: string }): Promise<{ run: ScoreDto[]; steps: Map<string, ScoreDto[]> }> {
    const all = (await this.repository.ofRun(this.dataSource, projectId, run.id, new Date(run.startedAt))).map(toScoreDto);
    return {
      run: all.filter((s) => s.stepId === null),
      steps: groupBy(
        all.filter((s) => s.stepId !== null),
        (s) => s.stepId!,
      ),
    };
  }

  /** Steps' own scores (not their candidates') by step id. */
  async ofSteps(projectId: string, stepIds: string[]): Promise<Map<string, ScoreDto[]>> {
    if (stepIds.length === 0) return new Map();
    return groupBy((await this.repository.ofSteps(this.dataSource, projectId, stepIds)).map(toScoreDto), (s) => s.stepId!);
  }

  /** A step's candidates' scores by key. */
  async ofStepCandidates(projectId: string, stepId: string, keys: string[]): Promise<Map<string, ScoreDto[]>> {
    if (keys.length === 0) return new Map();
    const rows = await this.repository.ofStepCandidates(this.dataSource, projectId, stepId, keys);
    return groupBy(rows.map(toScoreDto), (s) => s.key!);
  }

  /** Candidates' scores (candidates of any steps) by {@link candidateScoreKey}(stepId, key). */
  async ofCandidates(projectId: string, candidates: { stepId: string; key: string; runStartedAt: Date }[]): Promise<Map<string, ScoreDto[]>> {
    if (candidates.length === 0) return new Map();
    const rows = await this.repository.ofCandidates(this.dataSource, projectId, candidates);
    return groupBy(rows.map(toScoreDto), (s) => candidateScoreKey(s.stepId!, s.key!));
  }
}
