import { encodeTopicPart, replyTopic, tenantReplyPrefix } from './reply-topics';

describe('reply topics', () => {
  it('keeps plain ids readable', () => {
    expect(replyTopic('acme', 'invoice-bot')).toBe('replies.acme.invoice-bot');
  });

  it('encodes characters topic names cannot hold, and dots, so no tenant prefix matches another tenant', () => {
    expect(encodeTopicPart('a.b')).toBe('a_2eb');
    expect(encodeTopicPart('bot@acme:eu')).toBe('bot_40acme_3aeu');
    expect(encodeTopicPart('x_y')).toBe('x_5fy');
    expect(replyTopic('a.b', 'c')).not.toBe(replyTopic('a', 'b.c'));
    expect(replyTopic('acme2', 'bot').startsWith(tenantReplyPrefix('acme'))).toBe(false);
  });

  it('hashes ids too long for a topic name, deterministically', () => {
    const long = 'x'.repeat(200);
    expect(encodeTopicPart(long)).toMatch(/^h-[0-9a-f]{40}$/);
    expect(encodeTopicPart(long)).toBe(encodeTopicPart(long));
    expect(replyTopic(long, long).length).toBeLessThan(249 - 60);
  });
});
