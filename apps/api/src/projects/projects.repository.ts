import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Queryable } from '../database/queryable.js';
import { query, queryChanged, sql } from '../database/sql.js';
import type { Project } from './project.entity.js';

/** The advisory lock that serialises first-start bootstrap across API processes sharing a database. */
const FIRST_START_LOCK = 0x7872_6179;

type ProjectRow = { id: string; name: string; created_at: Date; retention_days: number | null };

const toProject = (r: ProjectRow): Project => ({ id: r.id, name: r.name, createdAt: r.created_at, retentionDays: r.retention_days });

const PROJECT_COLUMNS = sql.raw('id, name, created_at, retention_days');

/** The SQL of the projects module (the projects table). */
@Injectable()
export class ProjectsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Inserts the project unless its name is taken; answers it, or undefined when the name was taken. */
  async insertProjectUnlessNameTaken(id: string, name: string, db: Queryable = this.dataSource): Promise<Project | undefined> {
    const [row] = await query<ProjectRow>(db, sql`INSERT INTO projects (id, name) VALUES (${id}, ${name}) ON CONFLICT DO NOTHING RETURNING ${PROJECT_COLUMNS}`);
    return row && toProject(row);
  }

  /** Every project, oldest first. */
  async listProjects(db: Queryable = this.dataSource): Promise<Project[]> {
    const rows = await query<ProjectRow>(db, sql`SELECT ${PROJECT_COLUMNS} FROM projects ORDER BY created_at, id`);
    return rows.map(toProject);
  }

  async findProjectById(id: string, db: Queryable = this.dataSource): Promise<Project | undefined> {
    const [row] = await query<ProjectRow>(db, sql`SELECT ${PROJECT_COLUMNS} FROM projects WHERE id = ${id}`);
    return row && toProject(row);
  }

  async findProjectByName(name: string, db: Queryable = this.dataSource): Promise<Project | undefined> {
    const [row] = await query<ProjectRow>(db, sql`SELECT ${PROJECT_COLUMNS} FROM projects WHERE name = ${name}`);
    return row && toProject(row);
  }

  /** Sets the project's retention (null: the server default); answers the project, or undefined when there is none. */
  async setRetentionDays(id: string, days: number | null, db: Queryable = this.dataSource): Promise<Project | undefined> {
    const [row] = await queryChanged<ProjectRow>(db, sql`UPDATE projects SET retention_days = ${days}::int WHERE id = ${id} RETURNING ${PROJECT_COLUMNS}`);
    return row && toProject(row);
  }

  /** Every project that keeps its runs for fewer days than the server (`serverDays`; null: forever), with its days. */
  listRetentionPolicies(serverDays: number | null, db: Queryable = this.dataSource): Promise<{ id: string; days: number }[]> {
    return query(
      db,
      sql`SELECT id, retention_days AS days FROM projects
       WHERE retention_days > 0 AND (${serverDays}::int IS NULL OR retention_days < ${serverDays}::int) ORDER BY id`,
    );
  }

  async anyProjectExists(db: Queryable = this.dataSource): Promise<boolean> {
    const [row] = await query<{ found: boolean }>(db, sql`SELECT EXISTS (SELECT 1 FROM projects) AS found`);
    return row.found;
  }

  /** Waits for, then holds until `db`'s transaction ends, the first-start lock. */
  async lockFirstStart(db: Queryable): Promise<void> {
    await query(db, sql`SELECT pg_advisory_xact_lock(${FIRST_START_LOCK})`);
  }
}
