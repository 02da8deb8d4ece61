import { ApiProperty } from '@nestjs/swagger';

/** One bucket of a time series (an hour or a day): what every point of the analytics time series starts with. */
export class TimeBucketDto {
  @ApiProperty({ format: 'date-time', description: 'Start of the bucket.', example: '2026-11-30T09:00:00.000Z' })
  start: string;
}
