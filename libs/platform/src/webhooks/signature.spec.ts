import { createHmac } from 'node:crypto';
import { verifyWebhook, webhookHeaders } from './signature';

describe('webhook signatures (Standard Webhooks v1)', () => {
  const now = 1_763_700_000_000;
  const body = '{"type":"t","data":{"a":1}}';

  it('signs "<id>.<timestamp>.<body>" with HMAC-SHA256 and verifies it', () => {
    const headers = webhookHeaders('s3cret', 'msg-1', now, body);
    const expected = createHmac('sha256', 's3cret')
      .update(`msg-1.${now / 1000}.${body}`)
      .digest('base64');
    expect(headers).toEqual({
      'webhook-id': 'msg-1',
      'webhook-timestamp': String(now / 1000),
      'webhook-signature': `v1,${expected}`,
    });
    expect(verifyWebhook('s3cret', headers, body, now + 1000)).toEqual({
      ok: true,
      id: 'msg-1',
      timestamp: now / 1000,
    });
  });

  it('refuses a changed body, another secret, an old timestamp and missing headers', () => {
    const headers = webhookHeaders('s3cret', 'msg-1', now, body);
    expect(verifyWebhook('s3cret', headers, body.replace('1', '2'), now)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(verifyWebhook('other', headers, body, now)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifyWebhook('s3cret', headers, body, now + 301_000)).toEqual({
      ok: false,
      reason: 'timestamp_out_of_tolerance',
    });
    expect(verifyWebhook('s3cret', { ...headers, 'webhook-id': undefined }, body, now)).toEqual({
      ok: false,
      reason: 'missing_headers',
    });
  });

  it('accepts any one of several signatures (key rotation) and whsec_ base64 secrets', () => {
    const key = Buffer.from('raw key bytes').toString('base64');
    const headers = webhookHeaders(`whsec_${key}`, 'msg-2', now, body);
    const rotated = { ...headers, 'webhook-signature': `v1,AAAA ${headers['webhook-signature']}` };
    expect(verifyWebhook('raw key bytes', rotated, body, now).ok).toBe(true);
    expect(verifyWebhook(`whsec_${key}`, rotated, body, now).ok).toBe(true);
  });
});
