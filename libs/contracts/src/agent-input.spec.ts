import { create, toBinary } from '@bufbuild/protobuf';
import { decode, EnvelopeError } from './envelope';
import { acceptGateRequest, DEFAULT_MAX_DEADLINE_MS } from './gate-request';
import { ActionKind, DataClass, GateRequested, GateRequestedSchema, MoneySchema } from './gen/warden/gate/v1/gate_pb';
import { Topic } from './topics';

const headers = (contentType: string) => ({
  ce_specversion: '1.0',
  ce_id: 'r1',
  ce_source: 'test',
  ce_type: 'warden.gate.v1.GateRequested',
  'content-type': contentType,
});
const json = (body: object) => ({
  key: 'run-1',
  value: Buffer.from(JSON.stringify(body)),
  headers: headers('application/json'),
});

const sent = {
  requestId: 'r1',
  tenantId: 'acme',
  agentId: 'bot',
  runId: 'run-1',
  actionKind: 'tool_call',
  tool: 'tickets',
  action: 'read',
  requestedAtMs: 1000,
  deadlineMs: 3000,
  arguments: { ticket: 42, password: 'hunter2', note: 'call me with Bearer abcdefghijklmnopqrstuvwxyz' },
};

const decodeJson = (body: object) => decode(Topic.gateRequests, json(body)).data as GateRequested;
const refusal = (fn: () => unknown): EnvelopeError => {
  try {
    fn();
  } catch (error) {
    return error as EnvelopeError;
  }
  throw new Error('expected a refusal');
};

describe('agent input on gate.requests', () => {
  it('accepts short enum names in any case, full names and numbers', () => {
    expect(decodeJson(sent).actionKind).toBe(ActionKind.TOOL_CALL);
    expect(decodeJson({ ...sent, actionKind: 'TOOL_CALL' }).actionKind).toBe(ActionKind.TOOL_CALL);
    expect(decodeJson({ ...sent, actionKind: 'ACTION_KIND_TOOL_CALL' }).actionKind).toBe(ActionKind.TOOL_CALL);
    expect(decodeJson({ ...sent, actionKind: 3 }).actionKind).toBe(ActionKind.TOOL_CALL);
    expect(decodeJson({ ...sent, dataClasses: ['pii', 'DATA_CLASS_PCI'] }).dataClasses).toEqual([
      DataClass.PII,
      DataClass.PCI,
    ]);
  });

  it('accepts proto field names as well as JSON names', () => {
    expect(decodeJson({ ...sent, request_id: 'r2', requestId: undefined }).requestId).toBe('r2');
  });

  it('refuses an unknown field, naming it (also in a nested message)', () => {
    const e = refusal(() => decodeJson({ ...sent, environmnet: 'prod' }));
    expect(e).toMatchObject({ code: 'unknown_field', field: 'environmnet' });
    const nested = refusal(() => decodeJson({ ...sent, estimatedCost: { currency: 'EUR', micro: 1 } }));
    expect(nested).toMatchObject({ code: 'unknown_field', field: 'estimatedCost.micro' });
  });

  it('refuses an unknown enum value, listing the names it takes', () => {
    const e = refusal(() => decodeJson({ ...sent, actionKind: 'toolcall' }));
    expect(e).toMatchObject({ code: 'invalid_value', field: 'actionKind' });
    expect(e.message).toMatch(/tool_call/);
  });

  it('refuses binary input with fields this version does not know', () => {
    const body = Buffer.concat([
      Buffer.from(toBinary(GateRequestedSchema, create(GateRequestedSchema, { requestId: 'r1' }))),
      Buffer.from([0xa8, 0x1f, 0x01]), // field 501, varint 1
    ]);
    const e = refusal(() =>
      decode(Topic.gateRequests, { key: 'k', value: body, headers: headers('application/protobuf') }),
    );
    expect(e).toMatchObject({ code: 'unknown_field', field: '#501' });
  });

  it('keeps unknown fields lenient off the agent-facing topics (services evolve in place)', () => {
    const record = {
      ...json({ ...sent }),
      headers: { ...headers('application/json'), ce_type: 'warden.gate.v1.GateDecided' },
    };
    expect(() => decode(Topic.gateDecisions, { ...record, value: Buffer.from('{"requestId":"x"}') })).not.toThrow();
  });
});

describe('acceptGateRequest', () => {
  const rules = { maxDeadlineMs: DEFAULT_MAX_DEADLINE_MS };
  const request = (over: Partial<GateRequested> = {}) => ({ ...decodeJson(sent), ...over });

  it('computes the digest of the raw arguments, redacts them and drops the raw ones', () => {
    const accepted = acceptGateRequest(request(), rules, 'application/json');
    if (!accepted.ok) throw new Error(accepted.problem.reason);
    const r = accepted.request;
    expect(r.arguments).toBeUndefined();
    expect(r.argumentsDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(r.redactedArguments).toEqual({ ticket: 42, password: '[redacted]', note: '[redacted]' });
    expect(r.redactedPaths).toEqual(['/password', '/note']);
    expect(r.replyContentType).toBe('application/json');
    expect(r.stepId).toBe('r1');
    expect(r.attempt).toBe(1);
    expect(r.idempotencyKey).toBe('run-1:r1');
  });

  it('refuses a digest that is not the digest of the arguments', () => {
    const accepted = acceptGateRequest(request({ argumentsDigest: 'sha256:00' }), rules, 'application/json');
    expect(accepted).toMatchObject({ ok: false, problem: { field: 'argumentsDigest', code: 'digest_mismatch' } });
  });

  it.each<[string, Partial<GateRequested>, string, string]>([
    ['no deadline', { deadlineMs: 0 }, 'deadlineMs', 'missing_field'],
    ['a deadline before the request', { deadlineMs: 500 }, 'deadlineMs', 'invalid_value'],
    ['a deadline too far out', { deadlineMs: 1000 + DEFAULT_MAX_DEADLINE_MS + 1 }, 'deadlineMs', 'invalid_value'],
    ['no action kind', { actionKind: ActionKind.UNSPECIFIED }, 'actionKind', 'missing_field'],
    ['a tool call without a tool', { tool: '' }, 'tool', 'missing_field'],
    ['no run id', { runId: '' }, 'runId', 'missing_field'],
    ['a bad id', { agentId: 'bot one' }, 'agentId', 'invalid_value'],
    ['redacted arguments sent by the agent', { redactedArguments: { a: 1 } }, 'redactedArguments', 'refused_field'],
    ['a gate-set field', { agentTokenId: 'x' }, 'agentTokenId', 'refused_field'],
    ['a digest without arguments', { arguments: undefined, argumentsDigest: 'sha256:1' }, 'arguments', 'missing_field'],
    [
      'a bad currency',
      { estimatedCost: create(MoneySchema, { currency: 'euro', micros: 1 }) },
      'estimatedCost.currency',
      'invalid_value',
    ],
  ])('refuses %s, naming the field', (_name, over, field, code) => {
    expect(acceptGateRequest(request(over), rules, 'application/json')).toMatchObject({
      ok: false,
      problem: { field, code },
    });
  });
});
