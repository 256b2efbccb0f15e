import { RiskClass } from '@warden/contracts';
import { ConfigError } from '@warden/platform';
import { readApprovalConfig } from './config';

describe('approval configuration', () => {
  it('defaults: critical needs two approvers; separation of duties for high and critical; no webhooks', () => {
    const config = readApprovalConfig({});
    expect([...config.rules.quorum]).toEqual([[RiskClass.CRITICAL, 2]]);
    expect([...config.rules.separationOfDuties]).toEqual([RiskClass.HIGH, RiskClass.CRITICAL]);
    expect(config.rules).toMatchObject({ taskTtlMs: 900_000, escalateAfterMs: 300_000, escalateTo: ['admin'] });
    expect(config.webhooks).toEqual([]);
    expect(config.rules.taskTtlByRiskClass?.size).toBe(0);
  });

  it('reads task TTLs by risk class, with APPROVAL_TASK_TTL_MS for the classes not listed', () => {
    const config = readApprovalConfig({
      APPROVAL_TASK_TTL_MS: '60000',
      APPROVAL_TASK_TTL_BY_RISK_CLASS: 'high=3600000,critical=86400000',
    });
    expect(config.rules.taskTtlMs).toBe(60_000);
    expect([...config.rules.taskTtlByRiskClass!]).toEqual([
      [RiskClass.HIGH, 3_600_000],
      [RiskClass.CRITICAL, 86_400_000],
    ]);
  });

  it('refuses task TTLs by risk class that are not positive ms of a known class, naming the variable', () => {
    for (const value of ['critical=0', 'extreme=1000', 'high=1h', 'high=-5', 'high=']) {
      expect(() => readApprovalConfig({ APPROVAL_TASK_TTL_BY_RISK_CLASS: value })).toThrow(
        /APPROVAL_TASK_TTL_BY_RISK_CLASS/,
      );
    }
  });

  it('reads quorum, separation of duties and webhook endpoints', () => {
    const config = readApprovalConfig({
      APPROVAL_QUORUM: 'high=2,critical=3',
      APPROVAL_SOD_RISK_CLASSES: '',
      APPROVAL_WEBHOOKS: 'role:approver=https://hooks.example/a,*=http://127.0.0.1:9/b',
      APPROVAL_WEBHOOK_SECRET: 's',
      APPROVAL_WEBHOOK_RETRY_DELAYS_MS: '5,10',
    });
    expect([...config.rules.quorum]).toEqual([
      [RiskClass.HIGH, 2],
      [RiskClass.CRITICAL, 3],
    ]);
    expect(config.rules.separationOfDuties.size).toBe(0);
    expect(config.webhooks).toEqual([
      { recipient: 'role:approver', url: 'https://hooks.example/a' },
      { recipient: '*', url: 'http://127.0.0.1:9/b' },
    ]);
    expect(config.webhookRetry.delaysMs).toEqual([5, 10]);
  });

  it('names every variable at fault', () => {
    expect(() => readApprovalConfig({ APPROVAL_QUORUM: 'critical=0', APPROVAL_SOD_RISK_CLASSES: 'extreme' })).toThrow(
      /APPROVAL_QUORUM[\s\S]*APPROVAL_SOD_RISK_CLASSES/,
    );
    expect(() => readApprovalConfig({ APPROVAL_WEBHOOKS: 'role:approver=https://hooks.example/a' })).toThrow(
      ConfigError,
    );
  });
});
