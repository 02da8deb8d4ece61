import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Queryable } from '../database/queryable.js';
import { query, sql } from '../database/sql.js';

export interface ModelPriceRow {
  id: string;
  model_pattern: string;
  /** numeric: PostgreSQL's text of it. */
  input_per_million: string;
  output_per_million: string;
  cache_read_per_million: string | null;
  cache_write_per_million: string | null;
  valid_from: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** A price as written: the glob with its regular expression and specificity (model-pattern.ts). */
export interface ModelPriceValues {
  modelPattern: string;
  modelRegex: string;
  specificity: number;
  inputPerMillion: number;
  outputPerMillion: number;
  cacheReadPerMillion: number | null;
  cacheWritePerMillion: number | null;
  validFrom: Date | null;
}

const COLUMNS = sql.raw(
  'id, model_pattern, input_per_million, output_per_million, cache_read_per_million, cache_write_per_million, valid_from, created_at, updated_at',
);

/** The SQL of model_prices. The steps module's pricing statement reads the table too (StepsRepository.priceSteps). */
@Injectable()
export class ModelPricesRepository {
  constructor(private readonly dataSource: DataSource) {}

  list(projectId: string, db: Queryable = this.dataSource): Promise<ModelPriceRow[]> {
    return query<ModelPriceRow>(
      db,
      sql`SELECT ${COLUMNS} FROM model_prices WHERE project_id = ${projectId} ORDER BY model_pattern, valid_from NULLS FIRST, id`,
    );
  }

  /** Inserts a price; nothing when the project already has one for the pattern and validFrom. */
  async insert(projectId: string, id: string, v: ModelPriceValues, db: Queryable = this.dataSource): Promise<ModelPriceRow | undefined> {
    const rows = await query<ModelPriceRow>(
      db,
      sql`INSERT INTO model_prices (id, project_id, model_pattern, model_regex, specificity, input_per_million, output_per_million,
                                 cache_read_per_million, cache_write_per_million, valid_from)
       VALUES (${id}, ${projectId}, ${v.modelPattern}, ${v.modelRegex}, ${v.specificity}, ${v.inputPerMillion}, ${v.outputPerMillion},
               ${v.cacheReadPerMillion}, ${v.cacheWritePerMillion}, ${v.validFrom})
       ON CONFLICT DO NOTHING RETURNING ${COLUMNS}`,
    );
    return rows[0];
  }

  /** Replaces a price's values; nothing when it is not in the project. */
  async replace(projectId: string, id: string, v: ModelPriceValues, db: Queryable = this.dataSource): Promise<ModelPriceRow | undefined> {
    const rows = await query<ModelPriceRow>(
      db,
      sql`WITH w AS (UPDATE model_prices SET model_pattern = ${v.modelPattern}, model_regex = ${v.modelRegex}, specificity = ${v.specificity},
              input_per_million = ${v.inputPerMillion}, output_per_million = ${v.outputPerMillion},
              cache_read_per_million = ${v.cacheReadPerMillion}, cache_write_per_million = ${v.cacheWritePerMillion},
              valid_from = ${v.validFrom}, updated_at = now()
       WHERE project_id = ${projectId} AND id = ${id} RETURNING ${COLUMNS}) SELECT * FROM w`,
    );
    return rows[0];
  }

  async delete(projectId: string, id: string, db: Queryable = this.dataSource): Promise<boolean> {
    // In a CTE: TypeORM answers a bare UPDATE or DELETE as [rows, count].
    const rows = await query(db, sql`WITH w AS (DELETE FROM model_prices WHERE project_id = ${projectId} AND id = ${id} RETURNING id) SELECT id FROM w`);
    return rows.length > 0;
  }
}
