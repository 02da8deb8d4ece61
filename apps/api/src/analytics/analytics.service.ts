import { Inject, Injectable } from '@nestjs/common';
import { CandidatesService } from '../candidates/candidates.service.js';
import { AppError } from '../common/app-error.js';
import { decodeTimeIdCursor, encodeTimeIdCursor, pageOf } from '../common/cursor.js';
import { iso } from '../common/dto-helpers.js';
import { truncatedFields } from '../common/preview.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { CANDIDATE_PREVIEW_FIELDS } from '../candidates/candidates.dto.js';
import { RunsService } from '../runs/runs.service.js';
import { parseScoreFilters, type ScoreCondition } from '../scores/score-filter.js';
import { ScoreAnalyticsService } from '../scores/score-analytics.service.js';
import { candidateScoreKey, ScoreReadsService } from '../scores/score-reads.service.js';
import { STEP_PREVIEW_FIELDS } from '../steps/steps.dto.js';
import { llmFieldsOf, type StepRow, StepsService } from '../steps/steps.service.js';
import type { CandidateEvaluationDto, CandidateEvaluationPageDto, SearchCandidatesQueryDto, SearchStepsQueryDto, StepSearchPageDto } from './analytics.dto.js';
import { AnalyticsRepository } from './analytics.repository.js';
import { analyticsRange, pipelineAnalyticsOf } from './pipeline-analytics.js';
import type { PipelineAnalyticsDto, PipelineAnalyticsQueryDto } from './pipeline-analytics.dto.js';
import { rollupSpans, runSpans, stepSpans } from './rollup-range.js';
import { llmAnalyticsOf } from './llm-analytics.js';
import type { LlmAnalyticsDto, LlmAnalyticsQueryDto } from './llm-analytics.dto.js';
import { alignByPath, compareScores, compareSteps, pairsWithCandidates } from './run-comparison.js';
import type { RunComparisonDto } from './run-comparison.dto.js';

export { percentileFromBuckets } from './pipeline-analytics.js';

const toDate = (value: string | undefined) => (value === undefined ? undefined : new Date(value));

/** Cross-run questions: step search, candidate lineage, run comparison and pipeline analytics. */
@Injectable()
export class AnalyticsService {
  constructor(
    private readonly repository: AnalyticsRepository,
    private readonly runs: RunsService,
    private readonly steps: StepsService,
    private readonly candidates: CandidatesService,
    private readonly scores: ScoreReadsService,
    private readonly scoreAnalytics: ScoreAnalyticsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** "Where did the price filter drop more than 90%?" — steps across runs, newest first. */
  async searchSteps(projectId: string, q: SearchStepsQueryDto): Promise<StepSearchPageDto> {
    if (q.minEliminationRatio !== undefined && q.maxEliminationRatio !== undefined && q.minEliminationRatio > q.maxEliminationRatio) {
      throw new AppError(400, 'VALIDATION_FAILED', 'minEliminationRatio must not exceed maxEliminationRatio');
    }
    const limit = q.limit ?? 50;
    const after = q.cursor === undefined ? undefined : decodeTimeIdCursor(q.cursor);
    const { name, type, status, pipeline, model, minEliminationRatio, maxEliminationRatio, minDurationMs } = q;
    const rows = await this.repository.searchSteps(
      projectId,
      {
        name,
        type,
        status,
        pipeline,
        model,
        minEliminationRatio,
        maxEliminationRatio,
        minDurationMs,
        scores: q.score === undefined ? undefined : (parseScoreFilters(q.score) as ScoreCondition[]),
        from: toDate(q.from),
        to: toDate(q.to),
      },
      after,
      limit + 1,
      this.config.previewChars,
    );
    return pageOf(
      rows,
      limit,
      (r) => ({
        ...llmFieldsOf(r as unknown as StepRow),
        id: r.id,
        runId: r.run_id,
        pipeline: r.pipeline,
        parentStepId: r.parent_step_id,
        name: r.name,
        type: r.type,
        status: r.status,
        startedAt: r.started_at.toISOString(),
        endedAt: iso(r.ended_at),
        durationMs: r.duration_ms,
        candidatesIn: r.candidates_in,
        candidatesOut: r.candidates_out,
        eliminationRatio: r.elimination_ratio,
        input: r.input,
        output: r.output,
        metadata: r.metadata,
        truncated: truncatedFields(r, STEP_PREVIEW_FIELDS),
      }),
      (r) => encodeTimeIdCursor(r.started_at, r.id),
    );
  }

  /** "Why was B0XYZ never selected?" — every evaluation of one item, newest first. */
  async searchCandidates(projectId: string, q: SearchCandidatesQueryDto): Promise<CandidateEvaluationPageDto> {
    const limit = q.limit ?? 100;
    const before = q.cursor === undefined ? undefined : decodeTimeIdCursor(q.cursor);
    const rows = await this.repository.searchEvaluations(
      projectId,
      { key: q.key, pipeline: q.pipeline, decision: q.decision, from: toDate(q.from), to: toDate(q.to) },
      before,
      limit + 1,
      this.config.previewChars,
    );
    const scores = await this.scores.ofCandidates(
      projectId,
      rows.slice(0, limit).map((r) => ({ stepId: r.step_id, key: r.key, runStartedAt: r.run_started_at })),
    );
    return pageOf(
      rows,
      limit,
      (r) => ({
        runId: r.run_id,
        stepId: r.step_id,
        stepName: r.step_name,
        pipeline: r.pipeline,
        key: r.key,
        decision: r.decision,
        reason: r.reason,
        score: r.score,
        rank: r.rank,
        evaluations: r.evaluations as CandidateEvaluationDto['evaluations'],
        data: r.data,
        createdAt: r.created_at.toISOString(),
        truncated: truncatedFields(r, CANDIDATE_PREVIEW_FIELDS),
        scores: scores.get(candidateScoreKey(r.step_id, r.key)) ?? [],
      }),
      (r) => encodeTimeIdCursor(r.created_at, r.step_id),
    );
  }

  /** Two runs' step trees aligned by path, with what differs and which candidates flipped. */
  async compareRuns(projectId: string, leftId: string, rightId: string): Promise<RunComparisonDto> {
    const [left, right] = await Promise.all([this.runs.findRun(projectId, leftId), this.runs.findRun(projectId, rightId)]);
    const [leftTree, rightTree, leftScores, rightScores] = await Promise.all([
      this.steps.findStepTree(projectId, left),
      this.steps.findStepTree(projectId, right),
      this.scores.ofRun(projectId, left),
      this.scores.ofRun(projectId, right),
    ]);
    const aligned = alignByPath(leftTree, rightTree);
    const kept = await this.candidates.keptAndRejectedKeys(projectId, pairsWithCandidates(aligned));
    const stepScores = new Map([...leftScores.steps, ...rightScores.steps]);
    return { left, right, scores: compareScores(leftScores.run, rightScores.run), steps: compareSteps(aligned, kept, stepScores) };
  }

  /**
   * Everything comes from rollups (see AnalyticsRepository). Steps count by the hour they
   * started (the range widened to whole hours); runs are exact, the partial hours at the edges
   * read from the runs table. An hourly series reads hourly rollups only.
   */
  async pipelineAnalytics(projectId: string, pipeline: string, q: PipelineAnalyticsQueryDto): Promise<PipelineAnalyticsDto> {
    const range = analyticsRange(q);
    const p = { projectId, pipeline };
    const steps = stepSpans(range.from, range.to);
    const [runs, stepStats, reasons, durations, scores] = await Promise.all([
      this.repository.countRunsByBucket(p, range.bucket, runSpans(range.from, range.to, range.bucket === 'day')),
      this.repository.stepStats(p, steps),
      this.repository.topRejectionReasons(p, steps),
      this.repository.stepDurationHistograms(p, steps),
      this.scoreAnalytics.series(projectId, pipeline, range),
    ]);
    return { ...pipelineAnalyticsOf(pipeline, range, { runs, steps: stepStats, reasons, durations }), scores };
  }

  /**
   * LLM calls, tokens and cost over time, per pipeline, per step name and per model, with each
   * model's latency percentiles: from the LLM rollups, steps counted by the hour their run
   * started (the range widened to whole hours); an hourly series reads hourly rollups only.
   */
  async llmAnalytics(projectId: string, q: LlmAnalyticsQueryDto): Promise<LlmAnalyticsDto> {
    const range = analyticsRange(q);
    const hour = 3_600_000;
    const spans = rollupSpans(Math.floor(range.from.getTime() / hour) * hour, Math.ceil(range.to.getTime() / hour) * hour, range.bucket === 'day');
    const p = { projectId, pipeline: q.pipeline };
    const [rows, durations] = await Promise.all([this.repository.llmUsage(p, range.bucket, spans), this.repository.modelDurationHistograms(p, spans)]);
    return llmAnalyticsOf(q.pipeline ?? null, range, rows, durations);
  }
}
