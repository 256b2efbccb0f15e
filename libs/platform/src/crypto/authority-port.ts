import { TopicName } from '@warden/contracts';
import {
  BrokerAcl,
  ConsumeOptions,
  ConsumerHandle,
  KafkaPort,
  Published,
  RecordOut,
  TopicSpec,
  Watermark,
} from '../kafka/port';
import { AUTHORITY_OWNERS, AuthorityKey, signAuthority } from './authority';

/**
 * A KafkaPort that signs what its service publishes to the authority topics it owns
 * (docs/adr/0118): every processor, command gateway and ticker of the service publishes through
 * it, so no path of the owner can forget to sign. Records to other topics pass unchanged.
 */
export class AuthoritySigningPort implements KafkaPort {
  private readonly owned: ReadonlySet<string>;

  constructor(
    private readonly inner: KafkaPort,
    private readonly prefix: string,
    private readonly key: AuthorityKey,
  ) {
    this.owned = new Set(
      [...AUTHORITY_OWNERS].filter(([, service]) => service === key.service).map(([topic]) => prefix + topic),
    );
  }

  connect(): Promise<void> {
    return this.inner.connect();
  }

  publish(records: readonly RecordOut[]): Promise<Published[]> {
    if (this.owned.size === 0) return this.inner.publish(records);
    return this.inner.publish(
      records.map((r) =>
        this.owned.has(r.topic)
          ? {
              ...r,
              headers: {
                ...r.headers,
                ...signAuthority(r.topic.slice(this.prefix.length) as TopicName, r, this.key),
              },
            }
          : r,
      ),
    );
  }

  consume(options: ConsumeOptions): Promise<ConsumerHandle> {
    return this.inner.consume(options);
  }

  watermarks(topic: string): Promise<Watermark[]> {
    return this.inner.watermarks(topic);
  }

  ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    return this.inner.ensureTopics(specs);
  }

  deleteGroups(groupIds: readonly string[]): Promise<void> {
    return this.inner.deleteGroups(groupIds);
  }

  grant(principal: string, acls: readonly BrokerAcl[]): Promise<void> {
    return this.inner.grant(principal, acls);
  }

  healthy(): boolean {
    return this.inner.healthy();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
