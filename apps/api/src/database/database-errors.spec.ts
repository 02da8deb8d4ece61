import { QueryFailedError } from 'typeorm';
import { describeDatabaseError } from './database-errors.js';

/** A failure as TypeORM reports it: the driver's error (message, SQLSTATE) wrapped. */
const failed = (message: string, code: string) => new QueryFailedError('SELECT 1', [], Object.assign(new Error(message), { code }));

describe('describeDatabaseError on a Citus cluster', () => {
  it.each([
    ['connection to the remote node 127.0.0.1:9702 failed with the following error: Connection refused', '08006'],
    ['could not establish any connections to the node 127.0.0.1:9702 after 5000 ms', '08006'],
    ['could not connect to any active placements', 'XX000'],
  ])('a worker out of reach (%s) is 503 DATABASE_UNAVAILABLE with Retry-After', (message, code) => {
    expect(describeDatabaseError(failed(message, code))).toEqual({
      body: expect.objectContaining({ statusCode: 503, error: 'DATABASE_UNAVAILABLE' }),
      headers: { 'Retry-After': '5' },
    });
  });

  it('leaves other internal errors alone (they are bugs, not outages)', () => {
    expect(describeDatabaseError(failed('could not find shard placement', 'XX000'))).toBeUndefined();
  });
});
