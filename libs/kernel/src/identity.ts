/**
 * An identity as separation of duties compares it (docs/adr/0116): Unicode NFKC, lower case,
 * trimmed, so `OLGA`, ` olga ` and `ｏｌｇａ` are all `olga`. Identity providers differ in how they
 * spell a person; a comparison that treats two spellings as two people lets one person approve
 * their own action, while one that treats them as one only ever refuses a vote. The registry
 * compares identity links with it too.
 */
export function normalIdentity(identity: string): string {
  return identity.normalize('NFKC').toLowerCase().normalize('NFKC').trim();
}
