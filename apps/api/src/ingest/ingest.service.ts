import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { readBatch } from './ingest-envelope.js';
import type { IngestResultDto } from './ingest.dto.js';
import { IngestWriter } from './ingest.writer.js';

/**
 * The batch endpoint: the envelope is read and every event validated on its own
 * (ingest-envelope.ts), then the writer plans and applies them in one transaction
 * (ingest.writer.ts, ingest-plan.ts).
 */
@Injectable()
export class IngestService {
  constructor(
    private readonly writer: IngestWriter,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async ingest(projectId: string, body: unknown): Promise<IngestResultDto[]> {
    const events = await readBatch(body, this.config);
    return this.writer.write(projectId, events);
  }
}
