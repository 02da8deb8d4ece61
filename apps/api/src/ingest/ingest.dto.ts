import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { SelfValidated } from '../common/validation.js';

export const EVENT_TYPES = ['run-create', 'run-update', 'step-create', 'step-update', 'candidates-create'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export class IngestEventDto {
  @ApiProperty({
    description: 'Client-unique event id (a UUIDv7 is a good choice). An id seen before is not applied again.',
    maxLength: 200,
  })
  id: string;

  @ApiProperty({ enum: EVENT_TYPES, description: 'What the event does.' })
  type: EventType;

  @ApiPropertyOptional({
    description:
      'When the event happened on the client. Used as `startedAt` of a create and `endedAt` of an ending update when those are not given.',
    format: 'date-time',
  })
  timestamp?: string;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description:
      'What the matching endpoint takes, plus the ids of its path: `run-create` = createRun body; `run-update` = updateRun body + `id`; ' +
      '`step-create` = createStep body + `runId`; `step-update` = updateStep body + `id`; `candidates-create` = createCandidates body + `stepId`.',
  })
  body: Record<string, unknown>;
}

/** Validated by the ingest service event by event, so one bad event fails alone. */
@SelfValidated()
export class IngestBatchDto {
  @ApiProperty({ type: [IngestEventDto], description: 'Events, applied in order (at most XRAY_MAX_EVENTS_PER_BATCH, default 1000).' })
  events: IngestEventDto[];
}

export class IngestResultDto {
  @ApiProperty({ description: 'The event id.' })
  id: string;

  @ApiProperty({
    type: 'integer',
    description:
      'HTTP-style outcome of this event: 200/201 applied (or applied earlier), 400 invalid, 404 a parent is not there (yet: retry later), 409 id conflict.',
  })
  status: number;

  @ApiPropertyOptional({ type: ErrorResponseDto, description: 'Why the event failed.' })
  error?: ErrorResponseDto;
}

export class IngestResponseDto {
  @ApiProperty({ type: [IngestResultDto], description: 'One result per event, in order.' })
  results: IngestResultDto[];
}
