import { trace } from '@opentelemetry/api';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * JSON lines on stdout, one object per line, carrying the active trace and span ids so a log
 * line can be joined to its trace.
 */
export class Logger {
  constructor(
    readonly service: string,
    private readonly level: LogLevel = 'info',
    private readonly context: Record<string, unknown> = {},
    private readonly write: (line: string) => void = (line) => process.stdout.write(line + '\n'),
  ) {}

  child(context: Record<string, unknown>): Logger {
    return new Logger(this.service, this.level, { ...this.context, ...context }, this.write);
  }

  enabled(level: LogLevel): boolean {
    return ORDER[level] >= ORDER[this.level];
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.log('debug', msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.log('info', msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.log('warn', msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.log('error', msg, fields);
  }

  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (!this.enabled(level)) return;
    const span = trace.getActiveSpan()?.spanContext();
    const entry: Record<string, unknown> = {
      time: new Date().toISOString(),
      level,
      service: this.service,
      msg,
      ...this.context,
      ...fields,
    };
    if (span && span.traceId !== '00000000000000000000000000000000') {
      entry.trace_id = span.traceId;
      entry.span_id = span.spanId;
    }
    this.write(JSON.stringify(entry, replacer));
  }
}

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  return value;
}
