import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ProjectId } from '../auth/principal.js';
import { ApiBodyExamples, ApiErrors, ApiIdParam, ProjectRoute } from '../common/api-docs.js';
import { uuidParam } from '../common/uuid.pipe.js';
import { ModelPriceBodyDto, ModelPriceDto, ModelPriceListDto } from './model-prices.dto.js';
import { ModelPricesService } from './model-prices.service.js';

const PRICE_EXAMPLE = { modelPattern: 'gpt-4o-mini*', inputPerMillion: 0.15, outputPerMillion: 0.6, cacheReadPerMillion: 0.075 };

@ApiTags('model-prices')
@Controller('v1/model-prices')
export class ModelPricesController {
  constructor(private readonly prices: ModelPricesService) {}

  @Get()
  @ProjectRoute('read')
  @ApiOperation({
    summary: 'List your project’s model prices',
    description: 'Steps that carry a model and token usage but no `costUsd` are priced with them at ingest. xray ships no prices of its own.',
  })
  @ApiOkResponse({ type: ModelPriceListDto })
  async listModelPrices(@ProjectId() projectId: string): Promise<ModelPriceListDto> {
    return { items: await this.prices.list(projectId) };
  }

  @Post()
  @HttpCode(201)
  @ProjectRoute('admin')
  @ApiOperation({
    summary: 'Add a model price (a model-name glob with USD per million tokens)',
    description: 'Applies to steps written from now on; costs already stored keep the price they were computed with.',
  })
  @ApiBodyExamples(ModelPriceBodyDto, { gpt4oMini: { summary: 'gpt-4o-mini and its dated versions', value: PRICE_EXAMPLE } })
  @ApiCreatedResponse({ type: ModelPriceDto })
  @ApiErrors(400, 409)
  createModelPrice(@ProjectId() projectId: string, @Body() body: ModelPriceBodyDto): Promise<ModelPriceDto> {
    return this.prices.create(projectId, body);
  }

  @Put(':id')
  @ProjectRoute('admin')
  @ApiIdParam('id', 'Price id.')
  @ApiOperation({ summary: 'Replace a model price', description: 'Costs already stored keep the price they were computed with.' })
  // A later validFrom than the creation's example: a pattern's prices are unique per validFrom, so
  // the pre-filled replacement does not collide with the pre-filled creation.
  @ApiBodyExamples(ModelPriceBodyDto, {
    gpt4oMini: { summary: 'gpt-4o-mini priced anew from July', value: { ...PRICE_EXAMPLE, inputPerMillion: 0.12, validFrom: '2026-07-01T00:00:00.000Z' } },
  })
  @ApiOkResponse({ type: ModelPriceDto })
  @ApiErrors(400, 404, 409)
  replaceModelPrice(@ProjectId() projectId: string, @Param('id', uuidParam) id: string, @Body() body: ModelPriceBodyDto): Promise<ModelPriceDto> {
    return this.prices.replace(projectId, id, body);
  }

  @Delete(':id')
  @HttpCode(204)
  @ProjectRoute('admin')
  @ApiIdParam('id', 'Price id.')
  @ApiOperation({ summary: 'Delete a model price', description: 'Costs already stored keep the price they were computed with.' })
  @ApiNoContentResponse({ description: 'Deleted.' })
  @ApiErrors(400, 404)
  deleteModelPrice(@ProjectId() projectId: string, @Param('id', uuidParam) id: string): Promise<void> {
    return this.prices.delete(projectId, id);
  }
}
