import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { EXAMPLE } from '../common/examples.js';
import { SelfValidated } from '../common/validation.js';

export const EVENT_TYPES = ['run-create', 'run-update', 'step-create', 'step-update', 'candidates-create', 'score-create'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * A whole run in one batch, as the SDK sends it: create the run and a step, store the step's
 * candidates, end both. Event and object ids are fixed, so executing it again is a replay that
 * changes nothing (each result repeats its first status).
 */
const EXAMPLE_BATCH = [
  {
    id: EXAMPLE.eventId,
    type: 'run-create',
    timestamp: EXAMPLE.startedAt,
    body: { id: EXAMPLE.runId, pipeline: EXAMPLE.pipeline, input: EXAMPLE.runInput, tags: EXAMPLE.tags },
  },
  {
    id: '0193a2c4-5b12-7d3e-9f40-a1b2c3d4e516',
    type: 'step-create',
    timestamp: EXAMPLE.startedAt,
    body: { id: EXAMPLE.stepId, runId: EXAMPLE.runId, name: EXAMPLE.stepName, type: EXAMPLE.stepType, input: EXAMPLE.stepInput },
  },
  {
    id: '0193a2c4-5b13-7d3e-9f40-a1b2c3d4e517',
    type: 'candidates-create',
    body: {
      stepId: EXAMPLE.stepId,
      candidates: [
        { key: 'B0AAA', decision: 'accepted', evaluations: [{ check: 'price', passed: true, detail: '$39 <= $50' }] },
        { key: EXAMPLE.candidateKey, decision: 'rejected', reason: EXAMPLE.reason, evaluations: EXAMPLE.evaluations, data: EXAMPLE.candidateData },
      ],
    },
  },
  {
    id: '0193a2c4-5b14-7d3e-9f40-a1b2c3d4e518',
    type: 'step-update',
    timestamp: EXAMPLE.endedAt,
    body: { id: EXAMPLE.stepId, status: 'success', output: { kept: 1 }, reasoning: EXAMPLE.reasoning },
  },
  {
    id: '0193a2c4-5b15-7d3e-9f40-a1b2c3d4e519',
    type: 'run-update',
    timestamp: EXAMPLE.endedAt,
    body: { id: EXAMPLE.runId, status: 'success', output: EXAMPLE.runOutput },
  },
];

export class IngestEventDto {
  @ApiProperty({
    description: 'Client-unique event id (a UUIDv7 is a good choice). An id seen before is not applied again.',
    maxLength: 200,
    example: EXAMPLE.eventId,
  })
  id: string;

  @ApiProperty({ enum: EVENT_TYPES, description: 'What the event does.', example: 'run-create' })
  type: EventType;

  @ApiPropertyOptional({
    description: 'When the event happened on the client. Used as `startedAt` of a create and `endedAt` of an ending update when those are not given.',
    format: 'date-time',
    example: EXAMPLE.startedAt,
  })
  timestamp?: string;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description:
      'What the matching endpoint takes, plus the ids of its path: `run-create` = createRun body; `run-update` = updateRun body + `id`; ' +
      '`step-create` = createStep body + `runId`; `step-update` = updateStep body + `id`; `candidates-create` = createCandidates body + `stepId`; ' +
      '`score-create` = createScore body (its `id` required, for idempotent retries).',
    example: EXAMPLE_BATCH[0].body,
  })
  body: Record<string, unknown>;
}

/** Validated by the ingest service event by event, so one bad event fails alone. */
@SelfValidated()
export class IngestBatchDto {
  @ApiProperty({ type: [IngestEventDto], description: 'Events, applied in order (at most XRAY_MAX_EVENTS_PER_BATCH, default 1000).', example: EXAMPLE_BATCH })
  events: IngestEventDto[];
}

export class IngestResultDto {
  @ApiProperty({ description: 'The event id.', example: EXAMPLE.eventId })
  id: string;

  @ApiProperty({
    type: 'integer',
    description:
      'HTTP-style outcome of this event: 200/201 applied (or applied earlier), 400 invalid, 404 a parent is not there (yet: retry later), 409 id conflict.',
    example: 201,
  })
  status: number;

  @ApiPropertyOptional({
    type: ErrorResponseDto,
    description: 'Why the event failed.',
    example: { statusCode: 404, error: 'RUN_NOT_FOUND', message: `Run ${EXAMPLE.runId} not found` },
  })
  error?: ErrorResponseDto;
}

export class IngestResponseDto {
  @ApiProperty({
    type: [IngestResultDto],
    description: 'One result per event, in order.',
    example: EXAMPLE_BATCH.map((event) => ({ id: event.id, status: event.type.endsWith('create') ? 201 : 200 })),
  })
  results: IngestResultDto[];
}
