import type { LoggerService, LogLevel } from '@nestjs/common';

const ORDER: Record<string, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };
const LEVEL_OF: Record<LogLevel, string> = { verbose: 'debug', debug: 'debug', log: 'info', warn: 'warn', error: 'error', fatal: 'error' };

/**
 * Structured logs: one JSON object per line on stdout, with level, time, context and message
 * (plus fields for request logs). Never given keys or bodies.
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

  private emit(nestLevel: LogLevel, message: unknown, rest: unknown[]): void {
    const context = typeof rest[rest.length - 1] === 'string' ? (rest[rest.length - 1] as string) : undefined;
    this.write(LEVEL_OF[nestLevel], { context, msg: typeof message === 'string' ? message : JSON.stringify(message) });
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
