import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiBodyExamples, ApiErrors, ApiIdParam, ProjectRoute } from '../common/api-docs.js';
import { REQUEST_EXAMPLE } from '../common/examples.js';
import { uuidParam } from '../common/uuid.pipe.js';
import { ApiKeyListDto, CreateApiKeyDto, CreatedApiKeyDto } from './api-keys.dto.js';
import { ApiKeysService } from './api-keys.service.js';
import { ProjectId } from './principal.js';

@ApiTags('api-keys')
@Controller('v1/api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post()
  @HttpCode(201)
  @ProjectRoute('admin')
  @ApiOperation({ summary: 'Create an API key for your project with the scopes it needs; the secret is shown only in this answer' })
  @ApiBodyExamples(CreateApiKeyDto, { ingestKey: { summary: 'A key that can only send data', value: REQUEST_EXAMPLE.createApiKey } })
  @ApiCreatedResponse({ type: CreatedApiKeyDto })
  @ApiErrors(400)
  createApiKey(@ProjectId() projectId: string, @Body() body: CreateApiKeyDto): Promise<CreatedApiKeyDto> {
    return this.keys.createForProject(projectId, body);
  }

  @Get()
  @ProjectRoute('admin')
  @ApiOperation({ summary: 'List your project’s API keys (never their secrets)' })
  @ApiOkResponse({ type: ApiKeyListDto })
  async listApiKeys(@ProjectId() projectId: string): Promise<ApiKeyListDto> {
    return { items: await this.keys.list(projectId), nextCursor: null };
  }

  @Delete(':id')
  @HttpCode(204)
  @ProjectRoute('admin')
  @ApiIdParam('id', 'Key id.')
  @ApiOperation({ summary: 'Revoke an API key: it answers 401 from the next request on, on every API process' })
  @ApiNoContentResponse({ description: 'Revoked.' })
  @ApiErrors(400, 404)
  revokeApiKey(@ProjectId() projectId: string, @Param('id', uuidParam) id: string): Promise<void> {
    return this.keys.revoke(projectId, id);
  }
}
