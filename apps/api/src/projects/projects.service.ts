import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { ApiKeysService, type CreatedApiKey } from '../auth/api-keys.service.js';
import type { Principal } from '../auth/principal.js';
import { AppError } from '../common/app-error.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { Project } from './project.entity.js';
import type { CreatedProjectDto, ProjectDto } from './projects.dto.js';

const DEFAULT_PROJECT = 'default';
/** Serialises first-start bootstrap across API processes sharing a database. */
const BOOTSTRAP_LOCK = 0x7872_6179;

const toDto = (p: Project): ProjectDto => ({ id: p.id, name: p.name, createdAt: p.createdAt.toISOString() });

@Injectable()
export class ProjectsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly apiKeys: ApiKeysService,
  ) {}

  async create(name: string): Promise<CreatedProjectDto> {
    return this.dataSource.transaction(async (manager) => {
      const inserted = await manager
        .createQueryBuilder()
        .insert()
        .into(Project)
        .values({ id: randomUUID(), name })
        .orIgnore()
        .returning('*')
        .execute();
      if (inserted.raw.length === 0) throw new AppError(409, 'PROJECT_EXISTS', `A project named "${name}" already exists`);
      const project = await manager.findOneByOrFail(Project, { name });
      const { entity, key } = await this.apiKeys.create(manager, project.id, `${name} admin`, ['admin']);
      return {
        ...toDto(project),
        apiKey: { id: entity.id, name: entity.name, prefix: entity.prefix, scopes: entity.scopes, key },
      };
    });
  }

  async list(principal: Principal): Promise<ProjectDto[]> {
    const repo = this.dataSource.getRepository(Project);
    const rows =
      principal.kind === 'root'
        ? await repo.find({ order: { createdAt: 'ASC', id: 'ASC' } })
        : await repo.find({ where: { id: principal.projectId } });
    return rows.map(toDto);
  }

  /** The project with this name, or undefined. */
  async findByName(name: string): Promise<ProjectDto | undefined> {
    const project = await this.dataSource.getRepository(Project).findOneBy({ name });
    return project ? toDto(project) : undefined;
  }

  /**
   * On an empty database, creates the `default` project with an admin key and answers the key
   * (once); on any other, answers undefined. Serialised across API processes.
   */
  async createDefaultIfEmpty(): Promise<CreatedApiKey | undefined> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query('SELECT pg_advisory_xact_lock($1)', [BOOTSTRAP_LOCK]);
      if ((await manager.count(Project)) > 0) return undefined;
      const project = manager.create(Project, { id: randomUUID(), name: DEFAULT_PROJECT });
      await manager.insert(Project, project);
      return this.apiKeys.create(manager, project.id, 'default admin', ['admin']);
    });
  }
}

/**
 * The server's first start: on an empty database, create the `default` project and print its
 * admin key once. A provider of its own so that the operator CLI, which uses ProjectsService
 * without it, never creates (and hides) that key.
 */
@Injectable()
export class FirstStart implements OnApplicationBootstrap {
  private readonly logger = new Logger('Projects');

  constructor(
    private readonly projects: ProjectsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const created = await this.projects.createDefaultIfEmpty();
    if (!created) return;
    this.logger.log(
      [
        'First start: created project "default" with an admin API key. It is shown only now; store it:',
        `    ${created.key}`,
        `  Paste it into the dashboard at http://localhost:${this.config.port}/ui/ (or Authorize in Swagger UI at /docs),`,
        '  or use it as "Authorization: Bearer <key>", e.g.',
        `    curl -H "Authorization: Bearer ${created.key}" http://localhost:${this.config.port}/v1/runs`,
      ].join('\n'),
    );
  }
}
