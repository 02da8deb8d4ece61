import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppError, badRequest, notFound } from '../common/app-error.js';
import { decodeTimeIdCursor, encodeTimeIdCursor, pageOf } from '../common/cursor.js';
import type { Queryable } from '../database/queryable.js';
import { lockRunRejections, moveRejectionRollup } from '../database/score-rejections.js';
import type {
  CreateScoreConfigDto,
  CreateScoreDto,
  ListScoresQueryDto,
  ScoreConfigBodyDto,
  ScoreConfigDto,
  ScoreDataType,
  ScoreDto,
  ScoreListDto,
  UpdateScoreDto,
} from './scores.dto.js';
import { type NewScore, type ScoreConfigRow, type ScoreRow, ScoresRepository, type TargetRun } from './scores.repository.js';

type ScoreValue = number | boolean | string;
type StoredValue = Pick<ScoreRow, 'data_type' | 'value_number' | 'value_bool' | 'value_label'>;

const TYPE_OF: Record<string, ScoreDataType> = { number: 'numeric', boolean: 'boolean', string: 'categorical' };

const invalidScore = (field: string, message: string) => badRequest('INVALID_SCORE', message, [{ field, message }]);

/**
 * A value as stored, checked against the name's configuration when it has one: the data type,
 * the range of a numeric score, the labels of a categorical one. Names without one are free.
 */
export function storedValue(name: string, value: ScoreValue, config: ScoreConfigRow | undefined, field = 'value'): StoredValue {
  const type = TYPE_OF[typeof value];
  if (config) {
    if (config.data_type !== type) {
      throw invalidScore(field, `Score "${name}" is configured as ${config.data_type}; ${JSON.stringify(value)} is ${type}`);
    }
    if (typeof value === 'number' && ((config.min !== null && value < config.min) || (config.max !== null && value > config.max))) {
      throw invalidScore(field, `Score "${name}" must be between ${config.min ?? '-∞'} and ${config.max ?? '∞'}; got ${value}`);
    }
    if (typeof value === 'string' && config.labels && !config.labels.includes(value)) {
      throw invalidScore(field, `Score "${name}" must be one of ${config.labels.map((l) => JSON.stringify(l)).join(', ')}; got ${JSON.stringify(value)}`);
    }
  }
  return {
    data_type: type,
    value_number: typeof value === 'number' ? value : null,
    value_bool: typeof value === 'boolean' ? value : null,
    value_label: typeof value === 'string' ? value : null,
  };
}

export const toScoreDto = (r: ScoreRow): ScoreDto => ({
  id: r.id,
  runId: r.run_id,
  stepId: r.step_id,
  key: r.candidate_key,
  target: r.candidate_key !== null ? 'candidate' : r.step_id !== null ? 'step' : 'run',
  name: r.name,
  dataType: r.data_type,
  value: (r.data_type === 'numeric' ? r.value_number : r.data_type === 'boolean' ? r.value_bool : r.value_label) as ScoreValue,
  comment: r.comment,
  source: r.source,
  author: r.author,
  metadata: r.metadata,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

const toConfigDto = (r: ScoreConfigRow): ScoreConfigDto => ({
  name: r.name,
  dataType: r.data_type,
  min: r.min,
  max: r.max,
  labels: r.labels,
  description: r.description,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

@Injectable()
export class ScoresService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly repository: ScoresRepository,
  ) {}

  async create(projectId: string, dto: CreateScoreDto): Promise<ScoreDto> {
    const [score] = await this.createMany(projectId, [dto], () => '');
    return score;
  }

  /** Creates every score or none (one transaction); a score whose id exists answers the stored one. */
  async createBatch(projectId: string, dtos: CreateScoreDto[]): Promise<ScoreDto[]> {
    return this.createMany(projectId, dtos, (i) => `scores[${i}].`);
  }

  private createMany(projectId: string, dtos: CreateScoreDto[], prefix: (i: number) => string): Promise<ScoreDto[]> {
    return this.dataSource.transaction((tx) => this.createWith(tx, projectId, dtos, prefix));
  }

  /**
   * Creates the scores on the caller's connection or transaction (the ingest writer's), set-wise:
   * a handful of statements whatever their number (configurations, ids already stored, runs,
   * steps, candidates, one INSERT). A score whose id is stored (or repeated earlier in `dtos`)
   * answers that score. The first score in order that fails (bad value, target not found) fails
   * the call, with the same error a one-by-one creation would give.
   */
  async createWith(db: Queryable, projectId: string, dtos: CreateScoreDto[], prefix: (i: number) => string = () => ''): Promise<ScoreDto[]> {
    const ids = [...new Set(dtos.flatMap((d) => (d.id === undefined ? [] : [d.id])))];
    // One after the other: `db` may be a transaction's single connection.
    const configList = await this.repository.configs(db, projectId, [...new Set(dtos.map((d) => d.name))]);
    const stored = await this.repository.findMany(db, projectId, ids);
    const runs = await this.repository.runTargets(db, projectId, [
      ...new Set(dtos.flatMap((d) => (d.stepId === undefined && d.runId !== undefined ? [d.runId] : []))),
    ]);
    const steps = await this.repository.stepTargets(db, projectId, [...new Set(dtos.flatMap((d) => (d.stepId === undefined ? [] : [d.stepId])))]);
    const configs = new Map(configList.map((c) => [c.name, c]));
    const existing = new Map(stored.map((r) => [r.id, r]));
    const candidates = await this.repository.existingCandidates(
      db,
      projectId,
      dtos.flatMap((d) => {
        const run = d.stepId === undefined ? undefined : steps.get(d.stepId);
        return d.key !== undefined && d.stepId !== undefined && run && !existing.has(d.id ?? '') ? [{ stepId: d.stepId, key: d.key, run }] : [];
      }),
    );
    // In order: answers for stored ids, checks for the rest (the first failure throws).
    const plan: ({ stored: ScoreRow } | { id: string })[] = [];
    const fresh = new Map<string, NewScore>();
    for (const [i, dto] of dtos.entries()) {
      const at = prefix(i);
      const known = dto.id === undefined ? undefined : existing.get(dto.id);
      if (known) {
        plan.push({ stored: known });
        continue;
      }
      if (dto.id !== undefined && fresh.has(dto.id)) {
        plan.push({ id: dto.id });
        continue;
      }
      const value = storedValue(dto.name, dto.value, configs.get(dto.name), `${at}value`);
      const target = this.targetOf(dto, at, runs, steps, candidates);
      const id = dto.id ?? randomUUID();
      fresh.set(id, {
        id,
        run_id: target.runId,
        run_started_at: target.runStartedAt,
        step_id: dto.stepId ?? null,
        candidate_key: dto.key ?? null,
        name: dto.name,
        ...value,
        comment: dto.comment ?? null,
        source: dto.source ?? 'api',
        author: dto.author ?? null,
        metadata: dto.metadata ?? null,
      });
      plan.push({ id });
    }
    // A candidate score records which steps of its run rejected its item (score-rejections.ts).
    const onCandidates = [...fresh.values()].filter((s) => s.candidate_key !== null);
    await lockRunRejections(
      db,
      onCandidates.map((s) => s.run_id),
      'exclusive',
    );
    // The rejection rollup moves from the items' latest scores before to those after.
    const items = onCandidates.map((c) => ({ runId: c.run_id, runStartedAt: c.run_started_at, key: c.candidate_key!, name: c.name }));
    await moveRejectionRollup(db, projectId, { items }, -1);
    const inserted = new Map((await this.repository.insertMany(db, projectId, [...fresh.values()])).map((r) => [r.id, r]));
    await moveRejectionRollup(db, projectId, { items }, 1);
    // Ids a concurrent retry stored between the lookup and the insert.
    const raced = [...fresh.keys()].filter((id) => !inserted.has(id));
    for (const r of await this.repository.findMany(db, projectId, raced)) inserted.set(r.id, r);
    return plan.map((p) => {
      if ('stored' in p) return toScoreDto(p.stored);
      const row = inserted.get(p.id);
      if (!row) throw new AppError(409, 'SCORE_CONFLICT', `Score ${p.id} is being created by another request; retry`);
      return toScoreDto(row);
    });
  }

  /** The run (and its start) the score targets, from the looked-up targets; 404 for ids not in the project. */
  private targetOf(dto: CreateScoreDto, at: string, runs: Map<string, TargetRun>, steps: Map<string, TargetRun>, candidates: Set<string>): TargetRun {
    if (dto.stepId === undefined) {
      if (dto.key !== undefined) throw invalidScore(`${at}stepId`, 'A candidate score names its step: stepId is required with key');
      if (dto.runId === undefined) throw invalidScore(`${at}runId`, 'A score targets a run (runId), a step (stepId) or a candidate (stepId and key)');
      const run = runs.get(dto.runId);
      if (!run) throw notFound('Run', dto.runId);
      return run;
    }
    const step = steps.get(dto.stepId);
    if (!step) throw notFound('Step', dto.stepId);
    if (dto.runId !== undefined && dto.runId !== step.runId) {
      throw invalidScore(`${at}runId`, `Step ${dto.stepId} belongs to run ${step.runId}, not ${dto.runId}`);
    }
    if (dto.key !== undefined && !candidates.has(`${dto.stepId}\u0000${dto.key}`)) {
      throw new AppError(404, 'CANDIDATE_NOT_FOUND', `Candidate ${dto.key} not found in step ${dto.stepId}`);
    }
    return step;
  }

  async list(projectId: string, q: ListScoresQueryDto): Promise<ScoreListDto> {
    const limit = q.limit ?? 100;
    const rows = await this.repository.list(this.dataSource, projectId, q, limit + 1, q.cursor === undefined ? undefined : decodeTimeIdCursor(q.cursor));
    return pageOf(rows, limit, toScoreDto, (r) => encodeTimeIdCursor(r.created_at, r.id));
  }

  async update(projectId: string, id: string, dto: UpdateScoreDto): Promise<ScoreDto> {
    return this.dataSource.transaction(async (tx) => {
      const current = await this.repository.find(tx, projectId, id);
      if (!current) throw notFound('Score', id);
      const [config] = await this.repository.configs(tx, projectId, [current.name]);
      const value = dto.value === undefined ? current : storedValue(current.name, dto.value, config);
      const row = await this.movingRejectionRollup(tx, projectId, current, () =>
        this.repository.update(tx, projectId, current, {
          data_type: value.data_type,
          value_number: value.value_number,
          value_bool: value.value_bool,
          value_label: value.value_label,
          comment: dto.comment === undefined ? current.comment : dto.comment,
          metadata: dto.metadata === undefined ? current.metadata : dto.metadata,
        }),
      );
      return toScoreDto(row);
    });
  }

  async delete(projectId: string, id: string): Promise<void> {
    await this.dataSource.transaction(async (tx) => {
      const current = await this.repository.find(tx, projectId, id);
      if (!current || !(await this.movingRejectionRollup(tx, projectId, current, () => this.repository.delete(tx, projectId, id)))) {
        throw notFound('Score', id);
      }
    });
  }

  /**
   * Runs a write that changes a stored score, moving the rejection rollup when it is a candidate
   * score (its item's latest score may change): under its run's exclusive lock, the item's
   * contribution is taken out before the write and put back after it.
   */
  private async movingRejectionRollup<T>(tx: Queryable, projectId: string, score: ScoreRow, write: () => Promise<T>): Promise<T> {
    if (score.candidate_key === null) return write();
    await lockRunRejections(tx, [score.run_id], 'exclusive');
    const item = { items: [{ runId: score.run_id, runStartedAt: score.run_started_at, key: score.candidate_key, name: score.name }] };
    await moveRejectionRollup(tx, projectId, item, -1);
    const result = await write();
    await moveRejectionRollup(tx, projectId, item, 1);
    return result;
  }

  async listConfigs(projectId: string): Promise<ScoreConfigDto[]> {
    return (await this.repository.configs(this.dataSource, projectId)).map(toConfigDto);
  }

  async createConfig(projectId: string, dto: CreateScoreConfigDto): Promise<ScoreConfigDto> {
    const row = await this.repository.insertConfig(this.dataSource, projectId, configRow(dto.name, dto));
    if (!row)
      throw new AppError(409, 'SCORE_CONFIG_EXISTS', `Score "${dto.name}" already has a configuration; replace it with PUT /v1/score-configs/${dto.name}`);
    return toConfigDto(row);
  }

  async replaceConfig(projectId: string, name: string, dto: ScoreConfigBodyDto): Promise<ScoreConfigDto> {
    const row = await this.repository.replaceConfig(this.dataSource, projectId, configRow(name, dto));
    if (!row) throw new AppError(404, 'SCORE_CONFIG_NOT_FOUND', `Score configuration ${name} not found`);
    return toConfigDto(row);
  }

  async deleteConfig(projectId: string, name: string): Promise<void> {
    if (!(await this.repository.deleteConfig(this.dataSource, projectId, name))) {
      throw new AppError(404, 'SCORE_CONFIG_NOT_FOUND', `Score configuration ${name} not found`);
    }
  }
}

/** A configuration as stored: a range only for numeric scores, labels required for (and only for) categorical ones. */
function configRow(name: string, dto: ScoreConfigBodyDto): Omit<ScoreConfigRow, 'created_at' | 'updated_at'> {
  const bad = (field: string, message: string) => badRequest('INVALID_SCORE_CONFIG', message, [{ field, message }]);
  if (dto.dataType !== 'numeric' && (dto.min !== undefined || dto.max !== undefined)) throw bad('min', 'min and max apply to numeric scores only');
  if (dto.min !== undefined && dto.max !== undefined && dto.min > dto.max) throw bad('min', `min (${dto.min}) is above max (${dto.max})`);
  if (dto.dataType === 'categorical' && dto.labels === undefined) throw bad('labels', 'A categorical score lists its allowed labels');
  if (dto.dataType !== 'categorical' && dto.labels !== undefined) throw bad('labels', 'labels apply to categorical scores only');
  return {
    name,
    data_type: dto.dataType,
    min: dto.min ?? null,
    max: dto.max ?? null,
    labels: dto.labels ?? null,
    description: dto.description ?? null,
  };
}
