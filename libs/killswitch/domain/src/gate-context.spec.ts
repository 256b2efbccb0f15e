import {
  AgentRegisteredSchema,
  AgentProfileUpdatedSchema,
  BudgetSettledSchema,
  create,
  Envelope,
  GateDecidedSchema,
  GateRequestedSchema,
  Message,
} from '@warden/contracts';
import { emptyGateContext, evolveGateContext, GateContext, liveRuns } from './gate-context';

const t0 = 1_700_000_000_000;
const HOUR = 3_600_000;
const envelope = (data: Message, time: number): Envelope => ({
  id: `${data.$typeName}-${time}`,
  type: data.$typeName,
  source: 'test',
  time,
  key: '',
  tenantId: '',
  agentId: '',
  runId: '',
  data,
});
const fold = (events: [Message, number][]): GateContext =>
  events.reduce((c, [e, t]) => evolveGateContext(c, envelope(e, t), HOUR), emptyGateContext());
/** A decision of the gate (the request of record rides on it): what makes a run live. */
const request = (runId: string, tool = '') =>
  create(GateDecidedSchema, {
    requestId: `${runId}-r`,
    runId,
    request: create(GateRequestedSchema, { requestId: `${runId}-r`, runId, tenantId: 'acme', agentId: 'bot', tool }),
  });
/** The budget stage's settlement of a completed step: what names a run's last completed step. */
const settled = (runId: string, stepId: string, requestId: string) =>
  create(BudgetSettledSchema, { runId, stepId, requestId, tenantId: 'acme', agentId: 'bot' });

describe('gate context (what an engage acts on)', () => {
  it('given registry events, knows each agent and its current owner', () => {
    const c = fold([
      [
        create(AgentRegisteredSchema, {
          agentId: 'bot',
          tenantId: 'acme',
          profile: { owner: { team: 'a', contact: 'a@x' } },
        }),
        t0,
      ],
      [
        create(AgentProfileUpdatedSchema, {
          agentId: 'bot',
          tenantId: 'acme',
          profile: { owner: { team: 'b', contact: 'b@x' } },
        }),
        t0 + 1,
      ],
    ]);
    expect([...c.agents.values()]).toEqual([{ agentId: 'bot', tenantId: 'acme', team: 'b', contact: 'b@x' }]);
  });

  it('given decisions and settlements, knows each run, the tools it used and its last completed step', () => {
    const c = fold([
      [request('r1', 'bank.transfer'), t0],
      [settled('r1', 's1', 'r1-r'), t0 + 1],
      [request('r1', 'email.send'), t0 + 2],
      [request('r1', 'bank.transfer'), t0 + 3],
    ]);
    expect(liveRuns(c, t0)).toEqual([
      {
        runId: 'r1',
        tenantId: 'acme',
        agentId: 'bot',
        tools: ['bank.transfer', 'email.send'],
        lastCompletedStepId: 's1',
        lastCompletedRequestId: 'r1-r',
        lastSeenMs: t0 + 3,
      },
    ]);
  });

  it('a settlement read before its run’s first decision still names the last completed step', () => {
    const c = fold([
      [settled('r2', 's1', 'r2-1'), t0 + 1],
      [request('r2', 'email.send'), t0],
    ]);
    expect(liveRuns(c, t0)).toEqual([
      {
        runId: 'r2',
        tenantId: 'acme',
        agentId: 'bot',
        tools: ['email.send'],
        lastCompletedStepId: 's1',
        lastCompletedRequestId: 'r2-1',
        lastSeenMs: t0 + 1,
      },
    ]);
  });

  it('only runs seen within the window are live, and idle ones are forgotten', () => {
    const c = fold([
      [request('old'), t0],
      [request('new'), t0 + 2 * HOUR],
    ]);
    expect(liveRuns(c, t0 + HOUR).map((r) => r.runId)).toEqual(['new']);
    expect(c.runs.has('old')).toBe(false);
  });
});
