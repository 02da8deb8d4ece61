import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppError, notFound } from '../common/app-error.js';
import { iso } from '../common/dto-helpers.js';
import { globToRegex, specificity } from './model-pattern.js';
import type { ModelPriceBodyDto, ModelPriceDto } from './model-prices.dto.js';
import { type ModelPriceRow, ModelPricesRepository, type ModelPriceValues } from './model-prices.repository.js';

const toDto = (r: ModelPriceRow): ModelPriceDto => ({
  id: r.id,
  modelPattern: r.model_pattern,
  inputPerMillion: Number(r.input_per_million),
  outputPerMillion: Number(r.output_per_million),
  cacheReadPerMillion: r.cache_read_per_million === null ? null : Number(r.cache_read_per_million),
  cacheWritePerMillion: r.cache_write_per_million === null ? null : Number(r.cache_write_per_million),
  validFrom: iso(r.valid_from),
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

const valuesOf = (b: ModelPriceBodyDto): ModelPriceValues => ({
  modelPattern: b.modelPattern,
  modelRegex: globToRegex(b.modelPattern),
  specificity: specificity(b.modelPattern),
  inputPerMillion: b.inputPerMillion,
  outputPerMillion: b.outputPerMillion,
  cacheReadPerMillion: b.cacheReadPerMillion ?? null,
  cacheWritePerMillion: b.cacheWritePerMillion ?? null,
  validFrom: b.validFrom === undefined ? null : new Date(b.validFrom),
});

const duplicate = (b: ModelPriceBodyDto) =>
  new AppError(
    409,
    'MODEL_PRICE_EXISTS',
    `A price for ${b.modelPattern}${b.validFrom ? ` valid from ${b.validFrom}` : ''} exists already; replace it (PUT) or give another validFrom`,
  );

/**
 * A project's model prices. Costs computed with a price keep a copy of it (steps' cost_price),
 * so replacing or deleting a price never changes a cost already stored.
 */
@Injectable()
export class ModelPricesService {
  constructor(private readonly repository: ModelPricesRepository) {}

  async list(projectId: string): Promise<ModelPriceDto[]> {
    return (await this.repository.list(projectId)).map(toDto);
  }

  async create(projectId: string, body: ModelPriceBodyDto): Promise<ModelPriceDto> {
    const row = await this.repository.insert(projectId, randomUUID(), valuesOf(body));
    if (!row) throw duplicate(body);
    return toDto(row);
  }

  async replace(projectId: string, id: string, body: ModelPriceBodyDto): Promise<ModelPriceDto> {
    let row: ModelPriceRow | undefined;
    try {
      row = await this.repository.replace(projectId, id, valuesOf(body));
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw duplicate(body);
      throw err;
    }
    if (!row) throw notFound('Model price', id);
    return toDto(row);
  }

  async delete(projectId: string, id: string): Promise<void> {
    if (!(await this.repository.delete(projectId, id))) throw notFound('Model price', id);
  }
}
