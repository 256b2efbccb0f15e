import { createHash } from 'node:crypto';

/**
 * The id of the approval task that decides a pending request (docs/adr/0116): a pure function of
 * the request's tenant, run and request id, so the policy service names the task in its
 * `pending_approval` decision (`context.approval.task_id`) and the approval service opens the task
 * under that id, without a round trip. The gate gives a request id of a run one decision, so one
 * request has at most one task; tenant and run keep equal request ids of different tenants or runs
 * apart. A UUID in form (version 8, RFC 9562: custom), from the SHA-256 of the three ids.
 */
export function approvalTaskId(tenantId: string, runId: string, requestId: string): string {
  const h = createHash('sha256')
    .update(['warden.approval.task', tenantId, runId, requestId].join('\u0000'), 'utf8')
    .digest();
  h[6] = (h[6] & 0x0f) | 0x80;
  h[8] = (h[8] & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
