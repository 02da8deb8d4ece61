import type { ErrorDetail } from '../common/app-error.js';
import { AppError } from '../common/app-error.js';
import { jsonValueProblems } from '../common/validation.js';
import { DECISIONS } from '../domain/vocabulary.js';
import type { CandidateInputDto } from './candidates.dto.js';

/**
 * Hand-written validation for candidate batches. It enforces exactly the rules declared on
 * CandidateInputDto / EvaluationDto (which stay the documented contract in Swagger), but
 * without building a class instance per candidate: on 5,000 candidates this is ~50× cheaper
 * than class-transformer + class-validator, which dominated the request time.
 */
const CANDIDATE_FIELDS = new Set(['key', 'decision', 'score', 'rank', 'reason', 'evaluations', 'data']);
const EVALUATION_FIELDS = new Set(['check', 'passed', 'detail']);
const DECISION_SET = new Set<string>(DECISIONS);
const MAX_DETAILS = 20;
const MAX_EVALUATIONS = 100;

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkString(value: unknown, max: number, required: boolean): string | undefined {
  if (value === undefined || value === null) return required ? 'is required and must be a string' : undefined;
  if (typeof value !== 'string') return 'must be a string';
  if (required && value.length === 0) return 'must not be empty';
  if (value.length > max) return `must be at most ${max} characters`;
  if (!(value as unknown as { isWellFormed(): boolean }).isWellFormed()) return 'must be valid Unicode text (it contains a lone surrogate)';
  return undefined;
}

function validateOne(c: unknown, path: string, out: ErrorDetail[]): void {
  if (!isPlainObject(c)) {
    out.push({ field: path, message: 'must be an object' });
    return;
  }
  for (const k of Object.keys(c)) if (!CANDIDATE_FIELDS.has(k)) out.push({ field: `${path}.${k}`, message: `property ${k} should not exist` });
  const keyProblem = checkString(c.key, 500, true);
  if (keyProblem) out.push({ field: `${path}.key`, message: `key ${keyProblem}` });
  if (typeof c.decision !== 'string' || !DECISION_SET.has(c.decision)) {
    out.push({ field: `${path}.decision`, message: `decision must be one of: ${DECISIONS.join(', ')}` });
  }
  if (c.score !== undefined && c.score !== null && (typeof c.score !== 'number' || !Number.isFinite(c.score))) {
    out.push({ field: `${path}.score`, message: 'score must be a finite number' });
  }
  if (c.rank !== undefined && c.rank !== null && (typeof c.rank !== 'number' || !Number.isInteger(c.rank) || Math.abs(c.rank) > 2_000_000_000)) {
    out.push({ field: `${path}.rank`, message: 'rank must be an integer between -2000000000 and 2000000000' });
  }
  const reasonProblem = checkString(c.reason, 2000, false);
  if (reasonProblem) out.push({ field: `${path}.reason`, message: `reason ${reasonProblem}` });
  if (c.evaluations !== undefined && c.evaluations !== null) {
    if (!Array.isArray(c.evaluations)) {
      out.push({ field: `${path}.evaluations`, message: 'evaluations must be an array' });
    } else if (c.evaluations.length > MAX_EVALUATIONS) {
      out.push({ field: `${path}.evaluations`, message: `evaluations must contain at most ${MAX_EVALUATIONS} elements` });
    } else {
      c.evaluations.forEach((e: unknown, j: number) => {
        const ep = `${path}.evaluations.${j}`;
        if (!isPlainObject(e)) {
          out.push({ field: ep, message: 'must be an object' });
          return;
        }
        for (const k of Object.keys(e)) if (!EVALUATION_FIELDS.has(k)) out.push({ field: `${ep}.${k}`, message: `property ${k} should not exist` });
        const checkProblem = checkString(e.check, 200, true);
        if (checkProblem) out.push({ field: `${ep}.check`, message: `check ${checkProblem}` });
        if (typeof e.passed !== 'boolean') out.push({ field: `${ep}.passed`, message: 'passed must be a boolean value' });
        const detailProblem = checkString(e.detail, 2000, false);
        if (detailProblem) out.push({ field: `${ep}.detail`, message: `detail ${detailProblem}` });
      });
    }
  }
  if (c.data !== undefined && c.data !== null && typeof c.data !== 'boolean') jsonValueProblems(c.data, `${path}.data`, out);
}

/**
 * Validates a `{ candidates: [...] }` body. The per-request cap is checked first, so an
 * oversized batch is refused before any per-item work.
 */
export function validateCandidateBatch(body: unknown, maxPerRequest: number): CandidateInputDto[] {
  if (!isPlainObject(body)) throw new AppError(400, 'VALIDATION_FAILED', 'The body must be an object { candidates: [...] }');
  const details: ErrorDetail[] = [];
  for (const k of Object.keys(body)) if (k !== 'candidates') details.push({ field: k, message: `property ${k} should not exist` });
  const list = body.candidates;
  if (!Array.isArray(list)) {
    details.push({ field: 'candidates', message: 'candidates must be an array' });
  } else if (list.length === 0) {
    details.push({ field: 'candidates', message: 'candidates must contain at least 1 elements' });
  } else if (list.length > maxPerRequest) {
    throw new AppError(
      413,
      'TOO_MANY_CANDIDATES',
      `A request may carry at most ${maxPerRequest} candidates (XRAY_MAX_CANDIDATES_PER_REQUEST); got ${list.length}. Split the batch.`,
    );
  } else {
    const found: ErrorDetail[] = [];
    for (let i = 0; i < list.length && found.length < MAX_DETAILS; i++) validateOne(list[i], `candidates.${i}`, found);
    details.push(...found.slice(0, MAX_DETAILS));
  }
  if (details.length > 0) {
    const message = details.length === 1 ? `${details[0].field}: ${details[0].message}` : `${details.length} fields are invalid`;
    throw new AppError(400, 'VALIDATION_FAILED', message, details);
  }
  return list as CandidateInputDto[];
}
