import { Controller, Get, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { holds, ownTenant } from '@warden/kernel';
import { Input, rowViews, ServiceRuntime } from '@warden/platform';
import { Caller, CallerOf } from '@warden/platform/nest';
import { audit } from '@warden/registry-read-models';

@ApiTags('audit')
@Controller('audit')
export class AuditHttpController {
  constructor(private readonly runtime: ServiceRuntime) {}

  @Get()
  @ApiOperation({
    summary:
      'Who changed what in the caller tenant, when and why (roles auditor or admin; with them they see the signing-key changes): ?stream (agent id, tool:<tenant>/<tool>, <use>:<kid>), by, type, sinceMs, limit.',
  })
  async list(@Query() query: Record<string, unknown>, @CallerOf() caller: Caller) {
    const tenantId = ownTenant(caller, 'registry.audit.read');
    const q = Input.of(query);
    const since = q.string('sinceMs', { optional: true, pattern: /^\d{1,15}$/ });
    const rows = await audit(this.runtime.db, tenantId, {
      stream: q.string('stream', { optional: true, max: 300 }) || undefined,
      by: q.string('by', { optional: true, max: 200 }) || undefined,
      type: q.string('type', { optional: true, max: 100 }) || undefined,
      sinceMs: since ? Number(since) : undefined,
      platform: holds(caller, 'registry.keys.read'),
      limit: Number(q.string('limit', { optional: true, pattern: /^[1-9]\d{0,3}$/ }) || 100),
    });
    return rowViews(rows);
  }
}
