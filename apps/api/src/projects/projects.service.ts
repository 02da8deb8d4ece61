import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { ApiKeysService, type CreatedApiKey } from '../auth/api-keys.service.js';
import type { Principal } from '../auth/principal.js';
import { AppError, notFound } from '../common/app-error.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import type { Project } from './project.entity.js';
import { ProjectsRepository } from './projects.repository.js';
import type { CreatedProjectDto, ProjectDto } from './projects.dto.js';

const DEFAULT_PROJECT = 'default';

const toDto = (p: Project): ProjectDto => ({ id: p.id, name: p.name, createdAt: p.createdAt.toISOString(), retentionDays: p.retentionDays });

@Injectable()
export class ProjectsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly repository: ProjectsRepository,
    private readonly apiKeys: ApiKeysService,
  ) {}

  async create(name: string): Promise<CreatedProjectDto> {
    return this.dataSource.transaction(async (manager) => {
      const project = await this.repository.insertProjectUnlessNameTaken(randomUUID(), name, manager);
      if (!project) throw new AppError(409, 'PROJECT_EXISTS', `A project named "${name}" already exists`);
      const { entity, key } = await this.apiKeys.create(project.id, `${name} admin`, ['admin'], null, manager);
      return {
        ...toDto(project),
        apiKey: { id: entity.id, name: entity.name, prefix: entity.prefix, scopes: entity.scopes, key },
      };
    });
  }

  async list(principal: Principal): Promise<ProjectDto[]> {
    if (principal.kind === 'root') return (await this.repository.listProjects()).map(toDto);
    const own = await this.repository.findProjectById(principal.projectId);
    return own ? [toDto(own)] : [];
  }

  /** The project with this id, or undefined. */
  async findById(id: string): Promise<ProjectDto | undefined> {
    const project = await this.repository.findProjectById(id);
    return project ? toDto(project) : undefined;
  }

  /** Sets how long the project keeps its runs (null: the server default); 404 for no such project. */
  async setRetention(id: string, retentionDays: number | null): Promise<ProjectDto> {
    const project = await this.repository.setRetentionDays(id, retentionDays);
    if (!project) throw notFound('Project', id);
    return toDto(project);
  }

  /**
   * Every project that keeps its runs for less than the server does (XRAY_RETENTION_DAYS,
   * applied by dropping partitions), with its days: those are deleted run by run.
   */
  listRetentionPolicies(serverDays: number | null): Promise<{ id: string; days: number }[]> {
    return this.repository.listRetentionPolicies(serverDays);
  }

  /** The project with this name, or undefined. */
  async findByName(name: string): Promise<ProjectDto | undefined> {
    const project = await this.repository.findProjectByName(name);
    return project ? toDto(project) : undefined;
  }

  /**
   * On an empty database, creates the `default` project with an admin key and answers the key
   * (once); on any other, answers undefined. Serialised across API processes.
   */
  async createDefaultIfEmpty(): Promise<CreatedApiKey | undefined> {
    return this.dataSource.transaction(async (manager) => {
      await this.repository.lockFirstStart(manager);
      if (await this.repository.anyProjectExists(manager)) return undefined;
      const project = await this.repository.insertProjectUnlessNameTaken(randomUUID(), DEFAULT_PROJECT, manager);
      // Under the lock on an empty database the name is free.
      if (!project) return undefined;
      return this.apiKeys.create(project.id, 'default admin', ['admin'], null, manager);
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
