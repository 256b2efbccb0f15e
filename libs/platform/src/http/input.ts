import { invalid } from '@warden/kernel';

/**
 * Reading untrusted JSON bodies. Every failure is a DomainError('invalid') naming the field,
 * which the HTTP shell turns into problem+json.
 */
export class Input {
  private constructor(
    private readonly value: Record<string, unknown>,
    private readonly path: string,
  ) {}

  static of(body: unknown, path = ''): Input {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw invalid('invalid_body', `${path || 'the request body'} must be a JSON object`, path || undefined);
    }
    return new Input(body as Record<string, unknown>, path);
  }

  private at(name: string): string {
    return this.path ? `${this.path}.${name}` : name;
  }

  has(name: string): boolean {
    return this.value[name] !== undefined && this.value[name] !== null;
  }

  string(name: string, opts: { optional?: boolean; max?: number; pattern?: RegExp } = {}): string {
    const v = this.value[name];
    if (v === undefined || v === null || v === '') {
      if (opts.optional) return '';
      throw invalid('missing_field', `${this.at(name)} is required`, this.at(name));
    }
    if (typeof v !== 'string') throw invalid('invalid_field', `${this.at(name)} must be a string`, this.at(name));
    if (v.length > (opts.max ?? 1000))
      throw invalid('invalid_field', `${this.at(name)} is longer than ${opts.max ?? 1000}`, this.at(name));
    if (opts.pattern && !opts.pattern.test(v)) {
      throw invalid('invalid_field', `${this.at(name)} must match ${opts.pattern}`, this.at(name));
    }
    return v;
  }

  int(name: string, opts: { optional?: boolean; min?: number; max?: number } = {}): number {
    const v = this.value[name];
    if (v === undefined || v === null) {
      if (opts.optional) return 0;
      throw invalid('missing_field', `${this.at(name)} is required`, this.at(name));
    }
    if (typeof v !== 'number' || !Number.isSafeInteger(v))
      throw invalid('invalid_field', `${this.at(name)} must be an integer`, this.at(name));
    if (opts.min !== undefined && v < opts.min)
      throw invalid('invalid_field', `${this.at(name)} must be >= ${opts.min}`, this.at(name));
    if (opts.max !== undefined && v > opts.max)
      throw invalid('invalid_field', `${this.at(name)} must be <= ${opts.max}`, this.at(name));
    return v;
  }

  bool(name: string, fallback: boolean): boolean {
    const v = this.value[name];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') throw invalid('invalid_field', `${this.at(name)} must be true or false`, this.at(name));
    return v;
  }

  strings(name: string, opts: { optional?: boolean } = {}): string[] {
    const v = this.value[name];
    if (v === undefined || v === null) {
      if (opts.optional) return [];
      throw invalid('missing_field', `${this.at(name)} is required`, this.at(name));
    }
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
      throw invalid('invalid_field', `${this.at(name)} must be an array of strings`, this.at(name));
    }
    return v as string[];
  }

  object(name: string, opts: { optional?: boolean } = {}): Input {
    const v = this.value[name];
    if ((v === undefined || v === null) && opts.optional) return Input.of({}, this.at(name));
    return Input.of(v, this.at(name));
  }

  objects(name: string, opts: { optional?: boolean } = {}): Input[] {
    const v = this.value[name];
    if (v === undefined || v === null) {
      if (opts.optional) return [];
      throw invalid('missing_field', `${this.at(name)} is required`, this.at(name));
    }
    if (!Array.isArray(v)) throw invalid('invalid_field', `${this.at(name)} must be an array`, this.at(name));
    return v.map((item, i) => Input.of(item, `${this.at(name)}[${i}]`));
  }

  /** Any JSON value (e.g. an embedded JSON Schema), for the domain to validate; undefined when absent. */
  json(name: string): unknown {
    return this.value[name] ?? undefined;
  }

  record(name: string): Record<string, string> {
    const v = this.value[name];
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) {
      throw invalid('invalid_field', `${this.at(name)} must be an object of strings`, this.at(name));
    }
    return v as Record<string, string>;
  }
}
