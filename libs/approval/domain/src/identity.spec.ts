import { namesOf, normalIdentity, samePerson } from './identity';

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
});
