import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsNotEmpty, IsNumber, IsString, Max, MaxLength, Min } from 'class-validator';
import { OptionalNotNull, OptionalTimestamp } from '../common/dto-helpers.js';
import { EXAMPLE } from '../common/examples.js';
import { MAX_PATTERN_LENGTH } from './model-pattern.js';

const PRICE_ID = '0193a2c3-9e10-7b21-8c32-d43e54f65a17';

/** USD per million tokens: at most this (a bound against typos). */
const MAX_PRICE = 1_000_000;

const PricePerMillion = (description: string, example: number, optional: boolean) => {
  const decorators = [
    (optional ? ApiPropertyOptional : ApiProperty)({ description, minimum: 0, maximum: MAX_PRICE, type: Number, example }),
    IsNumber({ allowNaN: false, allowInfinity: false }),
    Min(0),
    Max(MAX_PRICE),
    ...(optional ? [OptionalNotNull()] : []),
  ];
  return (target: object, key: string | symbol) => decorators.forEach((d) => d(target, key));
};

/** A model price as created or replaced. */
export class ModelPriceBodyDto {
  @ApiProperty({
    description:
      'Which models it prices: a glob matched against the whole model name, case-insensitively. `*` is any run of characters, ' +
      '`?` exactly one, anything else itself: `gpt-4o-mini*` matches `gpt-4o-mini-2024-07-18`. Among the prices matching a ' +
      'model, the most specific pattern (most literal characters; none at all wildcards beats a glob) wins, then the latest `validFrom`.',
    maxLength: MAX_PATTERN_LENGTH,
    example: 'gpt-4o-mini*',
  })
  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_PATTERN_LENGTH)
  modelPattern: string;

  @PricePerMillion('USD per million input (prompt) tokens that were not read from or written to a cache.', 0.15, false)
  inputPerMillion: number;

  @PricePerMillion('USD per million output (completion) tokens, reasoning tokens included.', 0.6, false)
  outputPerMillion: number;

  @PricePerMillion('USD per million input tokens read from the prompt cache (default: the input price).', 0.075, true)
  cacheReadPerMillion?: number;

  @PricePerMillion('USD per million input tokens written to the prompt cache (default: the input price).', 0.1875, true)
  cacheWritePerMillion?: number;

  @OptionalTimestamp(
    'From when the price applies: steps that started before it are priced by an older price of the pattern (default: always).',
    '2026-01-01T00:00:00.000Z',
  )
  validFrom?: string;
}

export class ModelPriceDto {
  @ApiProperty({ format: 'uuid', description: 'Price id.', example: PRICE_ID })
  id: string;

  @ApiProperty({ description: 'The model-name glob.', example: 'gpt-4o-mini*' })
  modelPattern: string;

  @ApiProperty({ description: 'USD per million non-cached input tokens.', example: 0.15 })
  inputPerMillion: number;

  @ApiProperty({ description: 'USD per million output tokens.', example: 0.6 })
  outputPerMillion: number;

  @ApiProperty({ nullable: true, type: Number, description: 'USD per million cache-read input tokens; null: the input price.', example: 0.075 })
  cacheReadPerMillion: number | null;

  @ApiProperty({ nullable: true, type: Number, description: 'USD per million cache-write input tokens; null: the input price.', example: null })
  cacheWritePerMillion: number | null;

  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'From when it applies; null: always.', example: null })
  validFrom: string | null;

  @ApiProperty({ format: 'date-time', description: 'When it was created.', example: EXAMPLE.createdAt })
  createdAt: string;

  @ApiProperty({ format: 'date-time', description: 'When it was last replaced.', example: EXAMPLE.updatedAt })
  updatedAt: string;
}

export class ModelPriceListDto {
  @ApiProperty({ type: [ModelPriceDto], description: 'The project’s model prices, by pattern, then validFrom.' })
  items: ModelPriceDto[];
}
