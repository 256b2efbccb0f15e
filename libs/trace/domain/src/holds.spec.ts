import { HoldKind } from '@warden/contracts';
import { given } from '@warden/kernel';
import { HoldCommand, holds } from './holds';

const place = (over: Partial<Extract<HoldCommand, { type: 'PlaceHold' }>> = {}): HoldCommand => ({
  type: 'PlaceHold',
  holdId: 'h1',
  tenantId: 'acme',
  runId: 'run-1',
  agentId: '',
  kind: 'incident',
  reason: 'INC-7',
  by: 'ann',
  roles: ['auditor'],
  now: 5,
  ...over,
});
const release = (over: Partial<Extract<HoldCommand, { type: 'ReleaseHold' }>> = {}): HoldCommand => ({
  type: 'ReleaseHold',
  holdId: 'h1',
  tenantId: 'acme',
  reason: 'closed',
  by: 'ann',
  roles: ['admin'],
  now: 9,
  ...over,
});

describe('holds decider', () => {
  it('places a hold and releases it once', () => {
    const [placed] = given(holds, []).when(place()).thenEvents();
    expect(placed).toMatchObject({
      holdId: 'h1',
      runId: 'run-1',
      kind: HoldKind.INCIDENT,
      placedBy: 'ann',
      placedAtMs: 5,
    });
    const [released] = given(holds, [placed]).when(release()).thenEvents();
    expect(released).toMatchObject({ holdId: 'h1', releasedBy: 'ann', reason: 'closed', releasedAtMs: 9 });
    given(holds, [placed, released]).when(release()).thenThrows('conflict', 'hold_released');
    given(holds, [placed]).when(place()).thenThrows('conflict', 'hold_exists');
  });

  it('is for auditors and admins, with a run and a reason', () => {
    given(holds, [])
      .when(place({ roles: ['sre', 'owner'] }))
      .thenThrows('forbidden', 'not_a_holder');
    given(holds, [])
      .when(place({ runId: '' }))
      .thenThrows('invalid', 'missing_run');
    given(holds, [])
      .when(place({ reason: '' }))
      .thenThrows('invalid', 'missing_reason');
    given(holds, []).when(release()).thenThrows('not_found', 'not_found');
  });
});
