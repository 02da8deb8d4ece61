import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '../common/access.js';
import { HealthRepository } from './health.repository.js';

export class HealthDto {
  @ApiProperty({ enum: ['ok', 'unavailable'], description: 'Overall state.', example: 'ok' })
  status: 'ok' | 'unavailable';

  @ApiProperty({ enum: ['up', 'down'], description: 'Whether the database answered within 2 seconds.', example: 'up' })
  database: 'up' | 'down';
}

export class LiveDto {
  @ApiProperty({ enum: ['ok'], description: 'Always ok while the process answers.', example: 'ok' })
  status: 'ok';
}

export class ReadyDto {
  @ApiProperty({ enum: ['ok', 'unavailable'], description: 'ok when the API can serve requests.', example: 'ok' })
  status: 'ok' | 'unavailable';

  @ApiProperty({ enum: ['up', 'down'], description: 'Whether the database answered within 2 seconds.', example: 'up' })
  database: 'up' | 'down';

  @ApiProperty({ enum: ['applied', 'pending', 'unknown'], description: 'Whether every migration of this build is applied.', example: 'applied' })
  migrations: 'applied' | 'pending' | 'unknown';
}

@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  constructor(private readonly database: HealthRepository) {}

  @Get()
  @ApiOperation({ summary: 'Service health: 200 when the database answers, 503 when it does not' })
  @ApiOkResponse({ type: HealthDto })
  @ApiServiceUnavailableResponse({ type: HealthDto })
  async getHealth(@Res({ passthrough: true }) res: Response): Promise<HealthDto> {
    const up = await this.databaseUp();
    res.status(up ? 200 : 503);
    return up ? { status: 'ok', database: 'up' } : { status: 'unavailable', database: 'down' };
  }

  @Get('live')
  @ApiOperation({ summary: 'Liveness: 200 while the process serves HTTP (no dependencies checked)' })
  @ApiOkResponse({ type: LiveDto })
  getLiveness(): LiveDto {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({ summary: 'Readiness: 200 when the database answers and every migration is applied, else 503' })
  @ApiOkResponse({ type: ReadyDto })
  @ApiServiceUnavailableResponse({ type: ReadyDto })
  async getReadiness(@Res({ passthrough: true }) res: Response): Promise<ReadyDto> {
    const database = await this.databaseUp();
    let migrations: ReadyDto['migrations'] = 'unknown';
    if (database) {
      try {
        migrations = (await this.withTimeout(this.database.hasPendingMigrations())) ? 'pending' : 'applied';
      } catch {
        migrations = 'unknown';
      }
    }
    const ready = database && migrations === 'applied';
    res.status(ready ? 200 : 503);
    return { status: ready ? 'ok' : 'unavailable', database: database ? 'up' : 'down', migrations };
  }

  private withTimeout<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('health check timed out')), 2000).unref())]);
  }

  private async databaseUp(): Promise<boolean> {
    try {
      await this.withTimeout(this.database.ping());
      return true;
    } catch {
      return false;
    }
  }
}
