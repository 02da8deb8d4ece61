import { Controller, Get, HttpCode, Inject, Logger, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiExtraModels, ApiOkResponse, ApiOperation, ApiProduces, ApiTags, getSchemaPath } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ProjectId } from '../auth/principal.js';
import { ApiErrors, ProjectRoute } from '../common/api-docs.js';
import { AppError } from '../common/app-error.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import {
  ExportCandidatesLineDto,
  ExportEndLineDto,
  type ExportLine,
  ExportQueryDto,
  ExportRunEndLineDto,
  ExportRunLineDto,
  ExportStepLineDto,
  ImportResultDto,
} from './export.dto.js';
import { ExportService } from './export.service.js';
import { ImportService } from './import.service.js';
import { ndjsonLines } from './ndjson.js';

export const NDJSON = 'application/x-ndjson';

const FORMAT =
  'One JSON object per line, each with a `type`: `run` (the run), then its `step` lines (a parent before its children), each followed by ' +
  'its `candidates` lines (at most 1,000 candidates each), then `run-end` with the `cursor` to resume after that run; `end` closes a complete ' +
  'export with the totals (an answer without it was cut short: ask again with the last `run-end` cursor).';

/** Resolves when the client has taken the buffered lines, or has gone. */
const drainedOrClosed = (res: Response) =>
  new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });

/**
 * Writes lines as NDJSON, waiting for the client whenever the socket's buffer is full. Headers
 * go out with the first line, so a failure before it is answered in the one error shape; a
 * failure after it cuts the answer short (no `end` line). Stops reading when the client leaves.
 */
async function writeNdjson(res: Response, lines: AsyncGenerator<ExportLine>, logger: Logger): Promise<void> {
  let closed = false;
  res.once('close', () => (closed = true));
  try {
    for await (const line of lines) {
      if (closed) break;
      if (!res.headersSent) {
        res.status(200).setHeader('Content-Type', `${NDJSON}; charset=utf-8`);
        res.setHeader('Cache-Control', 'no-store');
      }
      if (!res.write(`${JSON.stringify(line)}\n`)) await drainedOrClosed(res);
    }
  } catch (err) {
    if (!res.headersSent) throw err;
    logger.error(`Export cut short: ${(err as Error).message}`);
    res.destroy();
    return;
  }
  res.end();
}

@ApiTags('export')
@Controller('v1')
export class ExportController {
  private readonly logger = new Logger('Export');

  constructor(
    private readonly exports: ExportService,
    private readonly imports: ImportService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get('export')
  @ProjectRoute('read')
  @ApiOperation({
    summary: "Export the project's runs with their steps and candidates as NDJSON",
    description: `Runs in start order (oldest first), filtered like the runs list. ${FORMAT} Import the file with \`POST /v1/import\` or \`xray import\`.`,
  })
  @ApiProduces(NDJSON)
  @ApiExtraModels(ExportRunLineDto, ExportStepLineDto, ExportCandidatesLineDto, ExportRunEndLineDto, ExportEndLineDto)
  @ApiOkResponse({
    description: 'NDJSON lines, each one of these shapes.',
    content: {
      [NDJSON]: {
        schema: {
          oneOf: [ExportRunLineDto, ExportStepLineDto, ExportCandidatesLineDto, ExportRunEndLineDto, ExportEndLineDto].map((c) => ({ $ref: getSchemaPath(c) })),
        },
      },
    },
  })
  @ApiErrors(400)
  async exportRuns(@ProjectId() projectId: string, @Query() query: ExportQueryDto, @Res() res: Response): Promise<void> {
    await writeNdjson(res, this.exports.lines(projectId, this.exports.plan(query)), this.logger);
  }

  @Post('import')
  @HttpCode(200)
  @ProjectRoute('ingest')
  @ApiOperation({
    summary: 'Import an NDJSON export into this project (idempotent)',
    description:
      `The body is a file \`GET /v1/export\` wrote, sent as ${NDJSON} (or text/plain). Ids are kept; importing the same file again changes nothing. ` +
      'Lines are checked and written run by run as they arrive: a bad line stops the import with a 400 naming it, and what came before it stays ' +
      '(import the corrected file again). The body limit (XRAY_MAX_BODY) applies: send a large export in parts that each start at a `run` line, ' +
      'or use `xray import FILE`.',
  })
  @ApiConsumes('text/plain', NDJSON)
  // text/plain first: Swagger UI pre-fills the first media type, and quotes an example as a JSON
  // string for any media type whose name contains "json".
  @ApiBody({
    description: 'The NDJSON lines of an export.',
    schema: { type: 'string' },
    examples: { empty: { summary: 'An empty export (its `end` line alone)', value: '{"type":"end","runs":0,"steps":0,"candidates":0,"nextCursor":null}\n' } },
  })
  @ApiOkResponse({ type: ImportResultDto, description: 'What the file held, now stored in the project.' })
  @ApiErrors(400, 409, 413)
  importRuns(@ProjectId() projectId: string, @Req() req: Request): Promise<ImportResultDto> {
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (type !== NDJSON && type !== 'text/plain') throw new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', `Send the export as ${NDJSON} (or text/plain)`);
    const length = Number(req.headers['content-length']);
    const maxBytes = this.config.maxBodyBytes;
    if (length > maxBytes) {
      throw new AppError(
        413,
        'PAYLOAD_TOO_LARGE',
        `Request body exceeds the limit of ${maxBytes} bytes (XRAY_MAX_BODY); send the file in parts, or use \`xray import\``,
      );
    }
    return this.imports.importLines(projectId, ndjsonLines(req, { maxBytes, maxLineBytes: maxBytes }));
  }
}
