import {
  create,
  DecisionTokensRevokedSchema,
  Effect,
  KillSwitchEngagedSchema,
  KillSwitchReleasedSchema,
  OwnerNotifiedSchema,
  RunHaltedSchema,
  ScopeSchema,
} from '@warden/contracts';
import { given } from '@warden/kernel';
import { parseEffects } from './effects';
import { KillSwitchCommand, killSwitch, KillSwitchEvent, KnownAgent, LiveRun } from './kill-switch';

type Engage = Extract<KillSwitchCommand, { type: 'EngageKillSwitch' }>;
type Release = Extract<KillSwitchCommand, { type: 'ReleaseKillSwitch' }>;

const now = 1_700_000_000_000;
const sre = { by: 'alice', roles: ['sre'], tenantId: 'acme' };
const platformAdmin = { by: 'root', roles: ['platform-admin'], tenantId: '' };
const acmeAdmin = { by: 'ada', roles: ['admin'], tenantId: 'acme' };
const agents: KnownAgent[] = [
  { agentId: 'payroll-bot', tenantId: 'acme', team: 'payroll', contact: 'payroll@acme.test' },
  { agentId: 'hr-bot', tenantId: 'acme', team: 'people', contact: 'people@acme.test' },
  { agentId: 'ledger-bot', tenantId: 'acme', team: 'payroll', contact: 'payroll@acme.test' },
  { agentId: 'other-bot', tenantId: 'globex', team: 'globex-ops', contact: 'ops@globex.test' },
];
const run = (runId: string, agentId: string, tenantId = 'acme', tools: string[] = [], step = ''): LiveRun => ({
  runId,
  tenantId,
  agentId,
  tools,
  lastCompletedStepId: step,
  lastCompletedRequestId: step ? `${runId}-${step}` : '',
});
const runs = [
  run('r-pay-1', 'payroll-bot', 'acme', ['bank.transfer'], 'step-3'),
  run('r-pay-2', 'payroll-bot', 'acme', []),
  run('r-hr-1', 'hr-bot', 'acme', ['email.send'], 'step-1'),
  run('r-globex', 'other-bot', 'globex', ['bank.transfer']),
];

const engage = (over: Partial<Engage> = {}): Engage => ({
  type: 'EngageKillSwitch',
  switchId: 'ks-1',
  scope: { tenantId: 'acme', agentId: 'payroll-bot' },
  reason: 'paying the wrong accounts',
  actor: sre,
  now,
  expiresAtMs: 0,
  effects: [Effect.STOP_RUN],
  agents,
  runs,
  ...over,
});
const release = (over: Partial<Release> = {}): Release => ({
  type: 'ReleaseKillSwitch',
  switchId: 'ks-1',
  reason: 'fixed',
  actor: { by: 'bob', roles: ['sre'], tenantId: 'acme' },
  now: now + 1000,
  ...over,
});
const scope = create(ScopeSchema, { tenantId: 'acme', agentId: 'payroll-bot' });
const engaged = (over: { expiresAtMs?: number; effects?: Effect[] } = {}) =>
  create(KillSwitchEngagedSchema, {
    switchId: 'ks-1',
    scope,
    reason: 'paying the wrong accounts',
    engagedBy: 'alice',
    engagedAtMs: now,
    effects: [Effect.STOP_RUN],
    ...over,
  });
const types = (events: readonly { $typeName: string }[]) => events.map((e) => e.$typeName.split('.').at(-1));
const halted = (events: readonly KillSwitchEvent[]) =>
  events.flatMap((e) => (e.$typeName === 'warden.killswitch.v1.RunHalted' ? [e.runId] : []));

describe('kill switch decider', () => {
  describe('engage', () => {
    it('records scope, reason, who, when and the effects it applies', () => {
      given(killSwitch).when(engage()).then([engaged()]);
    });

    it.each([
      ['global', {}, platformAdmin, ['r-pay-1', 'r-pay-2', 'r-hr-1', 'r-globex']],
      ['tenant', { tenantId: 'acme' }, sre, ['r-pay-1', 'r-pay-2', 'r-hr-1']],
      ['agent', { tenantId: 'acme', agentId: 'payroll-bot' }, sre, ['r-pay-1', 'r-pay-2']],
      ['run', { tenantId: 'acme', runId: 'r-hr-1' }, sre, ['r-hr-1']],
      ['tool', { tenantId: 'acme', tool: 'bank.transfer' }, sre, ['r-pay-1']],
      ['tool across tenants', { tool: 'bank.transfer' }, platformAdmin, ['r-pay-1', 'r-globex']],
      ['agent + run', { tenantId: 'acme', agentId: 'hr-bot', runId: 'r-pay-1' }, sre, []],
    ])('%s scope: given live runs, the safe-state effect halts exactly the covered runs', (_, s, actor, expected) => {
      const events = given(killSwitch)
        .when(engage({ scope: s, actor, effects: [Effect.SAFE_STATE] }))
        .thenEvents();
      expect(halted(events).sort()).toEqual([...expected].sort());
    });

    it('names the last completed step of each halted run (a known safe state)', () => {
      const events = given(killSwitch)
        .when(engage({ effects: [Effect.SAFE_STATE] }))
        .thenEvents();
      expect(events.slice(1)).toEqual([
        create(RunHaltedSchema, {
          runId: 'r-pay-1',
          tenantId: 'acme',
          agentId: 'payroll-bot',
          switchId: 'ks-1',
          reason: 'paying the wrong accounts',
          lastCompletedStepId: 'step-3',
          lastCompletedRequestId: 'r-pay-1-step-3',
          haltedAtMs: now,
        }),
        create(RunHaltedSchema, {
          runId: 'r-pay-2',
          tenantId: 'acme',
          agentId: 'payroll-bot',
          switchId: 'ks-1',
          reason: 'paying the wrong accounts',
          haltedAtMs: now,
        }),
      ]);
    });

    it('revoke-tools: revokes decision tokens in scope issued before the engage', () => {
      const events = given(killSwitch)
        .when(engage({ effects: [Effect.REVOKE_TOOLS] }))
        .thenEvents();
      expect(events[1]).toEqual(
        create(DecisionTokensRevokedSchema, { switchId: 'ks-1', scope, issuedBeforeMs: now, revokedAtMs: now }),
      );
    });

    it('notify-owner: one OwnerNotified per owner of the agents in scope', () => {
      const events = given(killSwitch)
        .when(engage({ scope: { tenantId: 'acme' }, effects: [Effect.NOTIFY_OWNER] }))
        .thenEvents();
      expect(events.slice(1)).toEqual([
        create(OwnerNotifiedSchema, {
          switchId: 'ks-1',
          scope: create(ScopeSchema, { tenantId: 'acme' }),
          reason: 'paying the wrong accounts',
          engagedBy: 'alice',
          team: 'payroll',
          contact: 'payroll@acme.test',
          agentIds: ['ledger-bot', 'payroll-bot'],
          notifiedAtMs: now,
          notificationId: 'ks-1.owner.0',
        }),
        create(OwnerNotifiedSchema, {
          switchId: 'ks-1',
          scope: create(ScopeSchema, { tenantId: 'acme' }),
          reason: 'paying the wrong accounts',
          engagedBy: 'alice',
          team: 'people',
          contact: 'people@acme.test',
          agentIds: ['hr-bot'],
          notifiedAtMs: now,
          notificationId: 'ks-1.owner.1',
        }),
      ]);
    });

    it('notify-owner on a run scope reaches only the owner of the run’s agent', () => {
      const events = given(killSwitch)
        .when(engage({ scope: { tenantId: 'acme', runId: 'r-hr-1' }, effects: [Effect.NOTIFY_OWNER] }))
        .thenEvents();
      expect(events.slice(1).map((e) => (e as { team: string }).team)).toEqual(['people']);
    });

    it('no effects listed means all eight: engaged, revoked, owners notified, runs halted', () => {
      const events = given(killSwitch)
        .when(engage({ effects: [] }))
        .thenEvents();
      expect(types(events)).toEqual([
        'KillSwitchEngaged',
        'DecisionTokensRevoked',
        'OwnerNotified',
        'RunHalted',
        'RunHalted',
      ]);
    });

    it('effects the killswitch service does not apply itself only travel on the event', () => {
      const effects = parseEffects(['stop_run', 'FREEZE_MEMORY_WRITES', 'EFFECT_PREVENT_RETRIES', 'block_delegation']);
      given(killSwitch)
        .when(engage({ effects }))
        .then([engaged({ effects })]);
    });

    it('refuses an unknown effect, naming its index', () => {
      expect(() => parseEffects(['stop_run', 'explode'])).toThrow(expect.objectContaining({ field: 'effects[1]' }));
    });

    it('refuses engaging without the sre or admin role', () => {
      given(killSwitch)
        .when(engage({ actor: { ...sre, roles: ['owner'] } }))
        .thenThrows('forbidden', 'role_required');
    });

    it("tenant isolation: an sre or a tenant's admin engages only inside its own tenant; platform-admin anywhere", () => {
      for (const actor of [sre, acmeAdmin]) {
        given(killSwitch)
          .when(engage({ actor, scope: { tenantId: 'globex' } }))
          .thenThrows('forbidden', 'platform_admin_required');
        given(killSwitch)
          .when(engage({ actor, scope: {} }))
          .thenThrows('forbidden', 'platform_admin_required');
        given(killSwitch)
          .when(engage({ actor, scope: { tool: 'bank.transfer' } }))
          .thenThrows('forbidden', 'platform_admin_required');
        expect(given(killSwitch).when(engage({ actor })).thenEvents()[0]).toMatchObject({ engagedBy: actor.by });
      }
      for (const scope of [{}, { tenantId: 'globex' }])
        expect(
          given(killSwitch)
            .when(engage({ scope, actor: platformAdmin }))
            .thenEvents()[0],
        ).toMatchObject({ scope: create(ScopeSchema, scope) });
    });

    it('refuses a missing reason, naming the field', () => {
      const error = given(killSwitch)
        .when(engage({ reason: '  ' }))
        .thenThrows('invalid', 'reason_required');
      expect(error.field).toBe('reason');
    });

    it('refuses a malformed scope id, naming the field', () => {
      const error = given(killSwitch)
        .when(engage({ scope: { tenantId: 'acme', agentId: 'no spaces allowed' } }))
        .thenThrows('invalid', 'invalid_scope');
      expect(error.field).toBe('scope.agentId');
    });

    it('refuses an expiry in the past, naming the field', () => {
      const error = given(killSwitch)
        .when(engage({ expiresAtMs: now - 1 }))
        .thenThrows('invalid', 'expiry_in_past');
      expect(error.field).toBe('expiresAtMs');
    });

    it('refuses engaging the same switch id twice', () => {
      given(killSwitch, [engaged()]).when(engage()).thenThrows('conflict', 'already_exists');
    });
  });

  describe('release', () => {
    it('releases with a role and a reason', () => {
      given(killSwitch, [engaged()])
        .when(release())
        .then([
          create(KillSwitchReleasedSchema, {
            switchId: 'ks-1',
            scope,
            reason: 'fixed',
            releasedBy: 'bob',
            releasedAtMs: now + 1000,
          }),
        ]);
    });

    it('refuses release without role, without reason, of another tenant, of an unknown or released switch', () => {
      given(killSwitch, [engaged()])
        .when(release({ actor: { by: 'bob', roles: [], tenantId: 'acme' } }))
        .thenThrows('forbidden', 'role_required');
      given(killSwitch, [engaged()])
        .when(release({ reason: '' }))
        .thenThrows('invalid', 'reason_required');
      for (const roles of [['sre'], ['admin']])
        given(killSwitch, [engaged()])
          .when(release({ actor: { by: 'eve', roles, tenantId: 'globex' } }))
          .thenThrows('forbidden', 'platform_admin_required');
      expect(
        given(killSwitch, [engaged()])
          .when(release({ actor: platformAdmin }))
          .thenEvents(),
      ).toHaveLength(1);
      given(killSwitch).when(release()).thenThrows('not_found', 'not_found');
      const released = create(KillSwitchReleasedSchema, { switchId: 'ks-1', reason: 'fixed' });
      given(killSwitch, [engaged(), released]).when(release()).thenThrows('conflict', 'already_released');
    });
  });

  describe('expiry (a clock tick through the runtime)', () => {
    const expiring = engaged({ expiresAtMs: now + 60_000 });

    it('before the expiry a tick does nothing', () => {
      given(killSwitch, [expiring])
        .when({ type: 'ExpireKillSwitch', switchId: 'ks-1', now: now + 59_999 })
        .then([]);
    });

    it('at or after the expiry a tick releases it as "system", marked expired', () => {
      given(killSwitch, [expiring])
        .when({ type: 'ExpireKillSwitch', switchId: 'ks-1', now: now + 60_250 })
        .then([
          create(KillSwitchReleasedSchema, {
            switchId: 'ks-1',
            scope,
            reason: `expired at ${new Date(now + 60_000).toISOString()}`,
            releasedBy: 'system',
            releasedAtMs: now + 60_250,
            expired: true,
          }),
        ]);
    });

    it('a switch without expiry, released, or unknown never expires', () => {
      const tick = { type: 'ExpireKillSwitch', switchId: 'ks-1', now: now + 10 ** 9 } as const;
      given(killSwitch, [engaged()]).when(tick).then([]);
      given(killSwitch, [expiring, create(KillSwitchReleasedSchema, { switchId: 'ks-1' })])
        .when(tick)
        .then([]);
      given(killSwitch).when(tick).then([]);
    });
  });

  describe('state', () => {
    it('ignores a second engage event for the same stream (the first writer wins)', () => {
      const state = given(killSwitch, [engaged()]).state;
      expect(killSwitch.evolve(state, { ...engaged(), reason: 'late' })).toBe(state);
    });

    it('remembers halted runs, so a later engage-time or request-time halt is not repeated', () => {
      const haltedEarly = create(RunHaltedSchema, { runId: 'r-pay-1', switchId: 'ks-1' });
      const state = given(killSwitch, [haltedEarly, engaged()]).state;
      expect(state.status).toBe('engaged');
      expect([...state.haltedRuns]).toEqual(['r-pay-1']);
      expect(killSwitch.evolve(state, haltedEarly)).toBe(state);
    });
  });
});
