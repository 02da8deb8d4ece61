import { sql } from './sql.js';

describe('sql', () => {
  it('binds every value as a parameter, never as text', () => {
    const name = "filter'; DROP TABLE runs; --";
    expect(sql`SELECT id FROM steps WHERE name = ${name} AND position > ${2}`.toQuery()).toEqual({
      text: 'SELECT id FROM steps WHERE name = $1 AND position > $2',
      values: [name, 2],
    });
  });

  it('nests fragments and numbers their parameters in order', () => {
    const where = [sql`project_id = ${'p'}`, sql`status = ${'error'}`, sql`started_at >= ${'2026-11-30'}`];
    const statement = sql`SELECT id FROM runs WHERE ${sql.join(where, ' AND ')} ORDER BY started_at DESC LIMIT ${51}`;
    expect(statement.toQuery()).toEqual({
      text: 'SELECT id FROM runs WHERE project_id = $1 AND status = $2 AND started_at >= $3 ORDER BY started_at DESC LIMIT $4',
      values: ['p', 'error', '2026-11-30', 51],
    });
  });

  it('joins nothing to nothing, and keeps raw text from our code as it is', () => {
    expect(sql`UPDATE runs SET ${sql.join([], ', ')}x`.toQuery()).toEqual({ text: 'UPDATE runs SET x', values: [] });
    expect(sql`SELECT ${sql.raw('id, pipeline')} FROM runs WHERE id = ${'r'}`.toQuery()).toEqual({
      text: 'SELECT id, pipeline FROM runs WHERE id = $1',
      values: ['r'],
    });
  });
});
