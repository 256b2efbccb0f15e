import { Body, Controller, Get, Header, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { invalid, requireRole } from '@warden/kernel';
import { Input } from '@warden/platform';
import { Caller, CallerOf } from '@warden/platform/nest';
import { KEY_USES, keyUseName } from '@warden/registry-domain';
import { KeyRing } from '../keys';
import { changeBy } from './change';

@ApiTags('keys')
@Controller()
export class KeysHttpController {
  constructor(@Inject(KeyRing) private readonly keys: KeyRing) {}

  @Get('.well-known/jwks.json')
  @Header('cache-control', 'public, max-age=60')
  @ApiOperation({
    summary:
      "The live public signing keys (agent tokens, decision tokens, and the services' authority keys that sign authority events on the bus; warden_use tells which: agent_token, decision_token, authority:<service>), for offline verification. No authentication.",
  })
  jwks() {
    return this.keys.jwks();
  }

  @Post('keys/rotate')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Rotate in a new key for a use (agent_token or decision_token); role platform-admin (the keys serve every tenant).',
  })
  async rotate(@Body() body: unknown, @CallerOf() caller: Caller) {
    const input = Input.of(body);
    const name = input.string('use', { max: 32 });
    const use = KEY_USES[name];
    if (!Object.prototype.hasOwnProperty.call(KEY_USES, name))
      throw invalid('invalid_key_use', `use must be one of ${Object.keys(KEY_USES).join(', ')}`, 'use');
    const state = await this.keys.rotate(use, changeBy(input, caller));
    return { use: name, kid: state.active.get(use) };
  }

  @Post('keys/:kid/retire')
  @HttpCode(200)
  @ApiOperation({ summary: 'Retire a key that is no longer active: it leaves the JWKS (role platform-admin; reason).' })
  async retire(@Param('kid') kid: string, @Body() body: unknown, @CallerOf() caller: Caller) {
    await this.keys.retire(kid, changeBy(Input.of(body), caller));
    return { kid, retired: true };
  }

  @Get('keys')
  @ApiOperation({
    summary: 'The signing keys (public halves), active and retired; roles admin, auditor or platform-admin.',
  })
  list(@CallerOf() caller: Caller) {
    requireRole(caller, 'registry.keys.read');
    const state = this.keys.state;
    return [...state.keys.values()].map((k) => ({
      kid: k.kid,
      use: keyUseName(k.use),
      alg: k.alg,
      active: state.active.get(k.use) === k.kid,
      retired: k.retired,
      activatedAt: new Date(k.activatedAtMs).toISOString(),
      by: k.change.by,
      reason: k.change.reason,
    }));
  }
}
