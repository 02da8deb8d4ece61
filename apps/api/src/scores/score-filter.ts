import { applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, ValidateBy } from 'class-validator';
import { RawJson } from '../common/validation.js';
import { type Sql, sql } from '../database/sql.js';

/**
 * Score filters of run and step listings: `score[<name>]=<condition>` (or `score.<name>=`), one
 * per name, all of which must hold. A condition is
 * - `>x`, `>=x`, `<x`, `<=x`, `=x` with a number x: a numeric score compared with x;
 * - `true` or `false`: a boolean score with that value;
 * - anything else: a categorical score with exactly that label (a label that itself starts
 *   with `<`, `>` or `=`, or reads `true`/`false`, is written after `label:`, e.g. `label:=ok`).
 * A target matches when at least one of its own scores of that name satisfies the condition.
 */
export type ScoreCondition =
  | { name: string; kind: 'numeric'; op: '>' | '>=' | '<' | '<=' | '='; value: number }
  | { name: string; kind: 'boolean'; value: boolean }
  | { name: string; kind: 'categorical'; value: string };

export const MAX_SCORE_FILTERS = 10;

export const SCORE_FILTER_GRAMMAR =
  '`score[<name>]=<condition>` or `score.<name>=<condition>`; the condition is `>x`, `>=x`, `<x`, `<=x` or `=x` with a number x (a numeric score), ' +
  '`true` or `false` (a boolean score), or a label (a categorical score; write `label:<label>` for a label starting with `<`, `>` or `=` or reading `true`/`false`). ' +
  `At most ${MAX_SCORE_FILTERS} names, each once; all must hold.`;

const NUMERIC = /^(>=|<=|>|<|=)(.*)$/;
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** One condition, or a message saying what is wrong with it. */
export function parseScoreCondition(name: string, raw: unknown): ScoreCondition | string {
  const param = `score[${name}]`;
  if (name.length === 0 || name.length > 200) return `${param}: a score name is 1–200 characters`;
  if (typeof raw !== 'string') return `${param} is given more than once`;
  if (raw.length === 0 || raw.length > 200) return `${param} needs a condition of 1–200 characters: ${SHORT_GRAMMAR}`;
  if (raw.startsWith('label:')) {
    const label = raw.slice('label:'.length);
    return label.length > 0 ? { name, kind: 'categorical', value: label } : `${param}=label: needs a label after it`;
  }
  if (raw === 'true' || raw === 'false') return { name, kind: 'boolean', value: raw === 'true' };
  const m = NUMERIC.exec(raw);
  if (m) {
    if (!NUMBER.test(m[2].trim())) return `${param}=${raw}: after ${m[1]} comes a number; ${SHORT_GRAMMAR}`;
    return { name, kind: 'numeric', op: m[1] as '>', value: Number(m[2].trim()) };
  }
  if (/^[<>=]/.test(raw)) return `${param}=${raw}: ${SHORT_GRAMMAR}`;
  return { name, kind: 'categorical', value: raw };
}

const SHORT_GRAMMAR = 'use >x, >=x, <x, <=x or =x with a number, true, false, or a label';

/** The filters of a query's `score` object, or the first message about what is wrong. */
export function parseScoreFilters(value: unknown): ScoreCondition[] | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `score filters are ${SCORE_FILTER_GRAMMAR}`;
  const entries = Object.entries(value);
  if (entries.length > MAX_SCORE_FILTERS) return `At most ${MAX_SCORE_FILTERS} score filters`;
  const out: ScoreCondition[] = [];
  for (const [name, raw] of entries) {
    const c = parseScoreCondition(name, raw);
    if (typeof c === 'string') return c;
    out.push(c);
  }
  return out;
}

/** Validates a query's `score` filters; the message names the parameter at fault (e.g. `score[relevance]`). */
export const IsScoreFilter = () =>
  ValidateBy({
    name: 'isScoreFilter',
    validator: {
      validate: (value: unknown) => typeof parseScoreFilters(value) !== 'string',
      defaultMessage: (args) => parseScoreFilters(args?.value) as string,
    },
  });

/** The `score` query parameter of a listing whose targets are runs or steps (their own scores). */
export const ScoreFilterParam = (whose: string) =>
  applyDecorators(
    ApiPropertyOptional({
      description:
        `Score filters on ${whose}: ${SCORE_FILTER_GRAMMAR} E.g. \`?score[relevance]=>=0.8&score[correct]=false\`. ` +
        'A bad condition answers 400 naming the parameter. In Swagger UI, type an object such as `{"relevance": ">=0.8"}`; `{}` filters nothing.',
      type: 'object',
      additionalProperties: { type: 'string' },
      style: 'deepObject',
      explode: true,
      example: {},
    } as never),
    IsOptional(),
    IsScoreFilter(),
    RawJson(),
  );

/** The condition on a `scores` row aliased `sc`. */
export function conditionSql(c: ScoreCondition): Sql {
  if (c.kind === 'boolean') return sql`sc.name = ${c.name} AND sc.value_bool = ${c.value}`;
  if (c.kind === 'categorical') return sql`sc.name = ${c.name} AND sc.value_label = ${c.value}`;
  return sql`sc.name = ${c.name} AND sc.value_number ${sql.raw(c.op)} ${c.value}::double precision`;
}

/**
 * For each condition, an EXISTS over the target's own scores: `target` says whose (a run's own:
 * no step; a step's own: no candidate key), `ids` the outer query's columns for project, run
 * or step id and run start (the partition).
 */
export function scoreFilterSql(conditions: ScoreCondition[], target: 'run' | 'step', ids: { project: string; id: string; runStartedAt: string }): Sql[] {
  const own = target === 'run' ? sql`sc.run_id = ${sql.raw(ids.id)} AND sc.step_id IS NULL` : sql`sc.step_id = ${sql.raw(ids.id)} AND sc.candidate_key IS NULL`;
  return conditions.map(
    (c) =>
      sql`EXISTS (SELECT 1 FROM scores sc WHERE sc.project_id = ${sql.raw(ids.project)} AND ${own}
                  AND sc.run_started_at = ${sql.raw(ids.runStartedAt)} AND ${conditionSql(c)})`,
  );
}
