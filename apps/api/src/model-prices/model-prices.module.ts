import { Module } from '@nestjs/common';
import { ModelPricesController } from './model-prices.controller.js';
import { ModelPricesRepository } from './model-prices.repository.js';
import { ModelPricesService } from './model-prices.service.js';

/** Per-project model prices, from which the cost of LLM steps sent without one is computed. */
@Module({
  controllers: [ModelPricesController],
  providers: [ModelPricesService, ModelPricesRepository],
})
export class ModelPricesModule {}
