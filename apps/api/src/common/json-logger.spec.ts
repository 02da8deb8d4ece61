import { Logger } from '@nestjs/common';
import { JsonLogger } from './json-logger.js';

/** Nest's own Logger writing through a JsonLogger whose lines are kept, not printed. */
function capture(level: 'debug' | 'info' | 'error') {
  const lines: Record<string, unknown>[] = [];
  const originalWrite = process.stdout.write.bind(process.stdout);
  const logger = new JsonLogger(level);
  Logger.overrideLogger(logger);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = String(chunk);
    if (text.startsWith('{"level"')) {
      lines.push(JSON.parse(text));
      return true;
    }
    return (originalWrite as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write;
  return { lines, restore: () => void (process.stdout.write = originalWrite) };
}

class ConnectionError extends Error {
  code = 'ECONNREFUSED';
  constructor() {
    super('connect ECONNREFUSED 127.0.0.1:1');
    this.name = 'ConnectionError';
  }
}

describe('JsonLogger', () => {
  afterEach(() => Logger.overrideLogger(false));

  it('logs an Error as its name, message and code, its stack only at debug', () => {
    for (const level of ['info', 'debug'] as const) {
      const { lines, restore } = capture(level);
      try {
        new Logger('NestFactory').error(new ConnectionError());
        // Nest's ExceptionHandler (a failed boot) logs the bare error without a context.
        Logger.error(new ConnectionError());
      } finally {
        restore();
      }
      expect(lines).toHaveLength(2);
      for (const line of lines) {
        expect(line).toMatchObject({
          level: 'error',
          msg: 'connect ECONNREFUSED 127.0.0.1:1',
          error: { name: 'ConnectionError', message: 'connect ECONNREFUSED 127.0.0.1:1', code: 'ECONNREFUSED' },
        });
        const error = line.error as { stack?: string };
        if (level === 'debug') expect(error.stack).toMatch(/^ConnectionError: connect ECONNREFUSED[^\n]*\n\s+at /);
        else expect(error.stack).toBeUndefined();
      }
      expect(lines[0].context).toBe('NestFactory');
    }
  });

  it('keeps the message and context of error(message, stack, context); the stack only at debug', () => {
    const stack = new Error('boom').stack!;
    for (const level of ['info', 'debug'] as const) {
      const { lines, restore } = capture(level);
      try {
        new Logger('Boot').error('Migration failed', stack);
        Logger.error('Pool failed', stack, 'Database');
        new Logger('Boot').error('No stack here');
      } finally {
        restore();
      }
      expect(lines.map((l) => [l.level, l.context, l.msg])).toEqual([
        ['error', 'Boot', 'Migration failed'],
        ['error', 'Database', 'Pool failed'],
        ['error', 'Boot', 'No stack here'],
      ]);
      expect(lines[0].stack).toBe(level === 'debug' ? stack : undefined);
      expect(lines[1].stack).toBe(level === 'debug' ? stack : undefined);
      expect(lines[2]).not.toHaveProperty('stack');
    }
  });

  it('logs an Error passed after a message, and never other parameters', () => {
    const { lines, restore } = capture('info');
    try {
      new Logger('Sweeper').warn('Sweep failed', new ConnectionError());
      new Logger('Ingest').log('accepted', { body: 'secret' });
    } finally {
      restore();
    }
    expect(lines[0]).toMatchObject({ level: 'warn', context: 'Sweeper', msg: 'Sweep failed', error: { name: 'ConnectionError', code: 'ECONNREFUSED' } });
    expect(lines[1]).toEqual({ level: 'info', time: expect.any(String), context: 'Ingest', msg: 'accepted' });
  });

  it('writes nothing below its level', () => {
    const { lines, restore } = capture('error');
    try {
      new Logger('X').log('hidden');
      new Logger('X').warn('hidden');
      new Logger('X').error(new ConnectionError());
    } finally {
      restore();
    }
    expect(lines.map((l) => l.level)).toEqual(['error']);
  });
});
