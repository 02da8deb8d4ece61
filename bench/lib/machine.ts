/** What machine a benchmark ran on: CPU model, cores, memory, PostgreSQL version. */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import pg from 'pg';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  postgres: string;
}

export async function describeMachine(adminUrl: string): Promise<MachineInfo> {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) cpu = line.split(':')[1].trim();
  } catch {
    // not Linux: os.cpus() will do
  }
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    return {
      cpu,
      cores: os.availableParallelism(),
      memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
      node: process.version,
      postgres: rows[0].v,
    };
  } finally {
    await client.end();
  }
}

export const formatMachine = (m: MachineInfo): string => `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB RAM, Node ${m.node}, PostgreSQL ${m.postgres}`;
