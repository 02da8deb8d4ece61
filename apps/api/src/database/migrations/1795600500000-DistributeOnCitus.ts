import { Logger } from '@nestjs/common';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { citusInstalled, citusShardCount, distributeTables } from '../citus.js';

/**
 * On a Citus coordinator (the citus extension installed in the database, or XRAY_CITUS=1, which
 * installs it), distributes the high-volume tables by project and makes the small ones reference
 * tables (database/citus.ts decides which from the catalog). On plain PostgreSQL and the
 * embedded database it does nothing, and so does it on a database whose tables are already
 * distributed. Existing rows move to the workers in place.
 */
export class DistributeOnCitus1795600500000 implements MigrationInterface {
  name = 'DistributeOnCitus1795600500000';

  public async up(q: QueryRunner): Promise<void> {
    if (!(await citusInstalled(q))) {
      if (process.env.XRAY_CITUS !== '1') return;
      await q.query(`CREATE EXTENSION citus`);
    }
    const workers: { n: number }[] = await q.query(`SELECT count(*)::int AS n FROM pg_dist_node WHERE groupid <> 0 AND noderole = 'primary'`);
    // Through the server's logger, so its format (XRAY_LOG_FORMAT) holds for these lines too.
    const logger = new Logger(this.name);
    const log = (line: string) => logger.log(line);
    // Each table's line is detail (debug): the start-up says once that the database is a Citus coordinator.
    const detail = (line: string) => logger.debug(line);
    if (workers[0].n === 0)
      log('no worker nodes are registered: the distributed tables stay on the coordinator until workers are added and the shards rebalanced');
    await distributeTables(q, { shardCount: citusShardCount(), log: process.env.XRAY_LOG_LEVEL === 'silent' ? undefined : detail });
  }

  public async down(): Promise<void> {
    // Undistributing (undistribute_table) brings every row back to the coordinator: do it by hand
    // if ever needed; the schema is the same either way.
  }
}
