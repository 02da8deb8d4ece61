import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AnyKeyRoute } from '../common/api-docs.js';
import { ApiKeysService } from './api-keys.service.js';
import { KeyInfoDto } from './key-info.dto.js';
import { CurrentPrincipal, type Principal } from './principal.js';

@ApiTags('auth')
@Controller('v1/auth')
export class AuthController {
  constructor(private readonly keys: ApiKeysService) {}

  @Get('key')
  @AnyKeyRoute()
  @ApiOperation({
    summary: 'Describe the key making the request: root or project key, its project, name, scopes and expiry',
    description: 'Any valid key may call it (a project key of any scope, or the root key), e.g. to check a key a user pasted into a dashboard.',
  })
  @ApiOkResponse({ type: KeyInfoDto })
  getKeyInfo(@CurrentPrincipal() principal: Principal): Promise<KeyInfoDto> {
    return this.keys.describe(principal);
  }
}
