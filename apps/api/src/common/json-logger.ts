import type { LoggerService, LogLevel } from '@nestjs/common';

const ORDER: Record<string, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };
const LEVEL_OF: Record<LogLevel, string> = { verbose: 'debug', debug: 'debug', log: 'info', warn: 'warn', error: 'error', fatal: 'error' };

/**
 * Nest's start-up detail (each module initialised, every route mapped: some forty lines) is
 * logged at the debug level instead of info, so the start-up output shows what matters.
 */
export const NEST_DETAIL_CONTEXTS: ReadonlySet<string> = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer']);

/** The context Nest passes last to `log(message, ...params, context)`. */
export const trailingContext = (params: unknown[]): string | undefined => {
  const last = params[params.length - 1];
  return typeof last === 'string' ? last : undefined;
};

/** A stack trace as Nest passes it to `error(message, stack, context)`. */
const STACK = /\n[ \t]+at .+/;

export interface LoggedError {
  name: string;
  message: string;
  code?: string | number;
  /** Only when the level is debug (stack traces are not logged at info and above). */
  stack?: string;
}

/**
 * Structured logs: one JSON object per line on stdout, with level, time, context and message
 * (plus fields for request logs). Never given keys or bodies. An `Error` is logged as its
 * name, message and code; its stack trace (and the stack argument of Nest's
 * `error(message, stack, context)`) only at the debug level.
 */
export class JsonLogger implements LoggerService {
  constructor(private readonly minimum: 'debug' | 'info' | 'warn' | 'error' | 'silent' = 'info') {}

  enabled(level: string): boolean {
    return ORDER[level] >= ORDER[this.minimum];
  }

  write(level: string, fields: Record<string, unknown>): void {
    if (!this.enabled(level)) return;
    process.stdout.write(`${JSON.stringify({ level, time: new Date().toISOString(), ...fields })}\n`);
  }

  describeError(err: Error): LoggedError {
    const code = (err as { code?: unknown }).code;
    return {
      name: err.name,
      message: err.message,
      ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
      ...(err.stack && this.enabled('debug') ? { stack: err.stack } : {}),
    };
  }

  /**
   * Nest calls `log(message, ...params, context)` and `error(message, stack?, context)`: the
   * last string parameter is the context, unless it is the only one and looks like a stack.
   */
  private emit(nestLevel: LogLevel, message: unknown, rest: unknown[]): void {
    const detail = nestLevel === 'log' && NEST_DETAIL_CONTEXTS.has(trailingContext(rest) ?? '');
    const level = detail ? 'debug' : LEVEL_OF[nestLevel];
    if (!this.enabled(level)) return;
    const params = [...rest];
    let context: string | undefined;
    const last = params[params.length - 1];
    if (typeof last === 'string' && !(params.length === 1 && STACK.test(last))) {
      context = last;
      params.pop();
    }
    const fields: Record<string, unknown> = { context };
    if (message instanceof Error) {
      fields.msg = message.message;
      fields.error = this.describeError(message);
    } else {
      fields.msg = typeof message === 'string' ? message : JSON.stringify(message);
    }
    for (const param of params) {
      if (param instanceof Error) {
        fields.error ??= this.describeError(param);
      } else if (typeof param === 'string' && STACK.test(param) && this.enabled('debug')) {
        fields.stack = param;
      }
      // Other parameters are not logged: they could carry a body or a key.
    }
    this.write(level, fields);
  }

  log(message: unknown, ...rest: unknown[]): void {
    this.emit('log', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.emit('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.emit('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.emit('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.emit('verbose', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.emit('fatal', message, rest);
  }
}
