import { Controller, Inject, Post, Req, Res, UseFilters } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ProjectId } from '../auth/principal.js';
import { AppError } from '../common/app-error.js';
import { ProjectRoute } from '../common/api-docs.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { readOtlpBody } from './otlp-body.js';
import { encodeExportResponse, otlpEncoding } from './otlp-decode.js';
import { OtlpExceptionFilter } from './otlp-exception.filter.js';
import { OtlpService } from './otlp.service.js';

/**
 * The OTLP/HTTP trace receiver: `OTEL_EXPORTER_OTLP_ENDPOINT=<xray>` sends here. Its bodies are
 * protobuf or OTLP/JSON, not the API's JSON, so it is left out of the OpenAPI document (the
 * OpenTelemetry protocol specification is its contract) and reads its own body (app.setup.ts
 * leaves it unparsed).
 */
@ApiExcludeController()
@UseFilters(OtlpExceptionFilter)
@Controller('v1/traces')
export class OtlpController {
  constructor(
    private readonly otlp: OtlpService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Post()
  @ProjectRoute('ingest')
  async exportTraces(@ProjectId() projectId: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    const encoding = otlpEncoding(req.headers['content-type']);
    if (!encoding) {
      req.resume();
      throw new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the export as application/x-protobuf or application/json');
    }
    const body = await readOtlpBody(req, req.headers['content-encoding'], this.config.maxBodyBytes);
    const rejection = await this.otlp.receive(projectId, body, encoding);
    const answer = encodeExportResponse(encoding, rejection);
    res.status(200).type(answer.contentType).send(answer.body);
  }
}
