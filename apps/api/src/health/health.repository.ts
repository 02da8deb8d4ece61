import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { query, sql } from '../database/sql.js';

/** What the health checks ask the database. */
@Injectable()
export class HealthRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Resolves when the database answers a trivial statement. */
  async ping(): Promise<void> {
    await query(this.dataSource, sql`SELECT 1`);
  }

  /** True when a migration of this build is not applied yet. */
  hasPendingMigrations(): Promise<boolean> {
    return this.dataSource.showMigrations();
  }
}
