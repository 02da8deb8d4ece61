import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiAcceptedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, type Principal } from '../auth/principal.js';
import { ApiBodyExamples, ApiErrors, ApiIdParam, ProjectRoute } from '../common/api-docs.js';
import { uuidParam } from '../common/uuid.pipe.js';
import { EXAMPLE } from '../common/examples.js';
import { DeleteRunsDto, DeletionDto, DeletionListDto, EraseCandidatesQueryDto, ListDeletionsQueryDto } from './deletion.dto.js';
import { DeletionService, type Requester } from './deletion.service.js';

/** The project and key of a project-key route (the guard admits nothing else here). */
const requester = (p: Principal): Requester => {
  if (p.kind !== 'project') throw new Error('deletion routes take project keys only');
  return { projectId: p.projectId, keyId: p.keyId };
};

@ApiTags('deletion')
@Controller('v1')
export class DeletionController {
  constructor(private readonly deletion: DeletionService) {}

  @Delete('runs/:id')
  @HttpCode(200)
  @ProjectRoute('delete')
  @ApiIdParam('id', 'Run id.')
  @ApiOperation({
    summary: 'Delete a run with its steps and candidates',
    description:
      'Removes the run, its steps and candidates, and takes them out of every analytics rollup. A tombstone keeps the id: ' +
      'replayed ingest events for it are answered as applied and store nothing; creating it again through REST answers 410.',
  })
  @ApiOkResponse({ type: DeletionDto, description: 'Deleted; `counts` says what was removed.' })
  @ApiErrors(400, 404)
  deleteRun(@CurrentPrincipal() principal: Principal, @Param('id', uuidParam) id: string): Promise<DeletionDto> {
    return this.deletion.deleteRun(requester(principal), id);
  }

  @Post('deletions')
  @HttpCode(202)
  @ProjectRoute('delete')
  @ApiOperation({
    summary: 'Delete the runs matching a filter, in the background',
    description:
      'At least one filter. Runs are deleted oldest first, 500 per transaction, so ingest never waits long; runs created after ' +
      'the request are not taken. Follow the progress (`done` of `total`) with getDeletion.',
  })
  @ApiBodyExamples(DeleteRunsDto, {
    oldErrors: {
      summary: 'Failed competitor-selection runs started before 2020',
      value: { pipeline: EXAMPLE.pipeline, status: 'error', before: '2020-01-01T00:00:00.000Z' },
    },
  })
  @ApiAcceptedResponse({ type: DeletionDto, description: 'Started; `status` is `running` until it is done.' })
  @ApiErrors(400)
  deleteRuns(@CurrentPrincipal() principal: Principal, @Body() body: DeleteRunsDto): Promise<DeletionDto> {
    return this.deletion.startDeletingRuns(requester(principal), body);
  }

  @Delete('candidates')
  @HttpCode(200)
  @ProjectRoute('delete')
  @ApiOperation({
    summary: 'Erase an item everywhere: every candidate row with this key',
    description:
      'Deletes the key’s candidate rows in every step of every run (with their data and evaluations). Stored counts and reason ' +
      'histograms drop by the rows erased; counts a client reported stay as reported. Candidates with this key are not stored ' +
      'again (the project keeps the SHA-256 of the key, not the key).',
  })
  @ApiOkResponse({ type: DeletionDto, description: 'Erased; `counts.candidates` rows, in `counts.stepsChanged` steps.' })
  @ApiErrors(400)
  eraseCandidates(@CurrentPrincipal() principal: Principal, @Query() query: EraseCandidatesQueryDto): Promise<DeletionDto> {
    return this.deletion.eraseKey(requester(principal), query.key);
  }

  @Get('deletions')
  @ProjectRoute('delete')
  @ApiOperation({ summary: 'List the project’s deletions (the audit log), newest first' })
  @ApiOkResponse({ type: DeletionListDto })
  @ApiErrors(400)
  listDeletions(@CurrentPrincipal() principal: Principal, @Query() query: ListDeletionsQueryDto): Promise<DeletionListDto> {
    return this.deletion.listDeletions(requester(principal).projectId, query);
  }

  @Get('deletions/:id')
  @ProjectRoute('delete')
  @ApiIdParam('id', 'Deletion id.')
  @ApiOperation({ summary: 'Get a deletion: what it removed, and a bulk deletion’s progress' })
  @ApiOkResponse({ type: DeletionDto })
  @ApiErrors(400, 404)
  getDeletion(@CurrentPrincipal() principal: Principal, @Param('id', uuidParam) id: string): Promise<DeletionDto> {
    return this.deletion.getDeletion(requester(principal).projectId, id);
  }
}
