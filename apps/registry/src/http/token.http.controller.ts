import { Body, Controller, Header, Headers, HttpCode, Inject, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Input } from '@warden/platform';
import { AgentTokens } from '../agent-tokens';

@ApiTags('identity')
@Controller('oauth')
export class TokenHttpController {
  constructor(@Inject(AgentTokens) private readonly tokens: AgentTokens) {}

  @Post('token')
  @HttpCode(200)
  @Header('cache-control', 'no-store')
  @ApiOperation({
    summary:
      'OAuth 2.0 token endpoint for agents (form or JSON): grant_type=client_credentials, client_id=<agent id>, and client_secret or client_assertion_type + client_assertion (private_key_jwt, aud "warden-registry"), with a DPoP proof (RFC 9449, EdDSA) in the DPoP header. Returns a short-lived agent token bound to the proof\'s key (token_type DPoP).',
  })
  token(@Body() body: unknown, @Headers('dpop') dpop: string | undefined) {
    const input = Input.of(body ?? {});
    return this.tokens.issue({
      dpop: dpop ?? '',
      grantType: input.string('grant_type', { max: 64 }),
      clientId: input.string('client_id', { optional: true, max: 128 }),
      clientSecret: input.string('client_secret', { optional: true, max: 512 }) || undefined,
      clientAssertionType: input.string('client_assertion_type', { optional: true, max: 200 }) || undefined,
      clientAssertion: input.string('client_assertion', { optional: true, max: 8192 }) || undefined,
    });
  }
}
