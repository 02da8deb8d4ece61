import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Queryable } from '../database/queryable.js';
import { query, sql } from '../database/sql.js';
import type { Project } from './project.entity.js';

/** The advisory lock that serialises first-start bootstrap across API processes sharing a database. */
const FIRST_START_LOCK = 0x7872_6179;

const toProject = (r: { id: string; name: string; created_at: Date }): Project => ({ id: r.id, name: r.name, createdAt: r.created_at });

/** The SQL of the projects module (the projects table). */
@Injectable()
export class ProjectsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Inserts the project unless its name is taken; answers it, or undefined when the name was taken. */
  async insertProjectUnlessNameTaken(id: string, name: string, db: Queryable = this.dataSource): Promise<Project | undefined> {
    const [row] = await query<{ id: string; name: string; created_at: Date }>(
      db,
      sql`INSERT INTO projects (id, name) VALUES (${id}, ${name}) ON CONFLICT DO NOTHING RETURNING id, name, created_at`,
    );
    return row && toProject(row);
  }

  /** Every project, oldest first. */
  async listProjects(db: Queryable = this.dataSource): Promise<Project[]> {
    const rows = await query<{ id: string; name: string; created_at: Date }>(db, sql`SELECT id, name, created_at FROM projects ORDER BY created_at, id`);
    return rows.map(toProject);
  }

  async findProjectById(id: string, db: Queryable = this.dataSource): Promise<Project | undefined> {
    const [row] = await query<{ id: string; name: string; created_at: Date }>(db, sql`SELECT id, name, created_at FROM projects WHERE id = ${id}`);
    return row && toProject(row);
  }

  async findProjectByName(name: string, db: Queryable = this.dataSource): Promise<Project | undefined> {
    const [row] = await query<{ id: string; name: string; created_at: Date }>(db, sql`SELECT id, name, created_at FROM projects WHERE name = ${name}`);
    return row && toProject(row);
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
