import { Controller, Get, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Input, ServiceRuntime } from '@warden/platform';
import { Caller, CallerOf } from '@warden/platform/nest';
import { audit } from '@warden/registry-read-models';
import { tenantOf } from './agent-profile.input';
import { requireRole } from './change';

@ApiTags('audit')
@Controller('audit')
export class AuditHttpController {
  constructor(private readonly runtime: ServiceRuntime) {}

  @Get()
  @ApiOperation({
    summary:
      'Who changed what in the caller tenant, when and why (roles auditor or admin; admins also see signing-key changes): ?stream (agent id, tool:<tenant>/<tool>, <use>:<kid>), by, type, sinceMs, limit.',
  })
  list(@Query() query: Record<string, unknown>, @CallerOf() caller: Caller) {
    requireRole(caller, ['auditor', 'admin'], 'reading the audit trail');
    const q = Input.of(query);
    const since = q.string('sinceMs', { optional: true, pattern: /^\d{1,15}$/ });
    return audit(this.runtime.db, tenantOf(caller), {
      stream: q.string('stream', { optional: true, max: 300 }) || undefined,
      by: q.string('by', { optional: true, max: 200 }) || undefined,
      type: q.string('type', { optional: true, max: 100 }) || undefined,
      sinceMs: since ? Number(since) : undefined,
      platform: caller.roles.includes('admin'),
      limit: Number(q.string('limit', { optional: true, pattern: /^[1-9]\d{0,3}$/ }) || 100),
    });
  }
}
