import { IQueryHandler, QueryHandler } from '@nestjs/cqrs';
import { notFound } from '@warden/kernel';
import { getDecision } from '@warden/policy-read-models';
import { rowView, ServiceRuntime } from '@warden/platform';

export class GetDecision {
  constructor(
    readonly tenantId: string,
    readonly requestId: string,
  ) {}
}

@QueryHandler(GetDecision)
export class GetDecisionHandler implements IQueryHandler<GetDecision> {
  constructor(private readonly runtime: ServiceRuntime) {}
  async execute({ tenantId, requestId }: GetDecision) {
    const row = await getDecision(this.runtime.db, tenantId, requestId);
    if (!row) throw notFound('not_found', `no decision for request ${requestId}`);
    return rowView(row);
  }
}
