import { IdentityLinks, linkedTo, namesOf, normalIdentity, personOf, samePerson } from './identity';

describe('identities as separation of duties compares them', () => {
  it('folds case, trims, and applies Unicode NFKC', () => {
    expect(normalIdentity('OLGA')).toBe('olga');
    expect(normalIdentity('  Olga\t')).toBe('olga');
    expect(normalIdentity('\uff2f\uff2c\uff27\uff21')).toBe('olga'); // full-width ＯＬＧＡ
    expect(normalIdentity('Olga.Owner@Example.COM')).toBe('olga.owner@example.com');
    expect(normalIdentity('   ')).toBe('');
  });

  it("knows a voter by the token's subject and its e-mail claim; an empty claim names nobody", () => {
    expect(namesOf({ voter: 'U-1', voterEmail: 'Ann@Example.com' })).toEqual(['u-1', 'ann@example.com']);
    expect(namesOf({ voter: 'ann', voterEmail: '' })).toEqual(['ann']);
    expect(samePerson({ voter: 'ann', voterEmail: '' }, { voter: 'ANN', voterEmail: 'x@example.com' })).toBe(true);
    expect(samePerson({ voter: 'u-1', voterEmail: 'a@x.io' }, { voter: 'u-2', voterEmail: 'A@X.io' })).toBe(true);
    expect(samePerson({ voter: 'ann', voterEmail: '' }, { voter: 'bob', voterEmail: '' })).toBe(false);
  });

  describe('registered identity links', () => {
    const links: IdentityLinks = [
      ['u-123', 'Olga@Example.com'],
      ['olga-admin', 'OLGA@example.COM'],
    ];

    it('link a subject to its aliases in every direction, transitively, normalised', () => {
      expect([...linkedTo('U-123', links)].sort()).toEqual(['olga-admin', 'olga@example.com', 'u-123']);
      expect([...linkedTo(' olga@example.com ', links)].sort()).toEqual(['olga-admin', 'olga@example.com', 'u-123']);
      expect([...linkedTo('OLGA-ADMIN', links)].sort()).toEqual(['olga-admin', 'olga@example.com', 'u-123']);
      expect([...linkedTo('ann', links)]).toEqual(['ann']);
      expect([...linkedTo('', links)]).toEqual([]);
    });

    it('a voter is every identity linked to its subject or e-mail claim', () => {
      expect([...personOf({ voter: 'ann', voterEmail: 'u-123' }, links)].sort()).toEqual([
        'ann',
        'olga-admin',
        'olga@example.com',
        'u-123',
      ]);
      expect(samePerson({ voter: 'u-123', voterEmail: '' }, { voter: 'olga-admin', voterEmail: '' }, links)).toBe(true);
      expect(samePerson({ voter: 'olga-admin', voterEmail: '' }, { voter: 'U-123', voterEmail: '' }, links)).toBe(true);
      expect(samePerson({ voter: 'u-123', voterEmail: '' }, { voter: 'olga-admin', voterEmail: '' })).toBe(false);
      expect(samePerson({ voter: 'u-123', voterEmail: '' }, { voter: 'bob', voterEmail: '' }, links)).toBe(false);
    });

    it('an unlinked subject (its entry gone) is only itself again', () => {
      const after: IdentityLinks = links.slice(1);
      expect([...linkedTo('u-123', after)]).toEqual(['u-123']);
      expect([...linkedTo('olga-admin', after)].sort()).toEqual(['olga-admin', 'olga@example.com']);
    });
  });
});
