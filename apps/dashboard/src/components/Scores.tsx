import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { api, call } from '../api/client.js';
import * as sdk from '../api/sdk.js';
import { useSession } from '../api/session.js';
import { fmtTime } from '../lib/format.js';
import { canScore, fmtScoreValue, parseScoreInput, scoreTone, type Score, type ValueKind } from '../lib/scores.js';
import { ErrorBox } from './common.js';

/**
 * Chips `name: value` (`compact`: the value alone, for narrow rows), coloured for booleans; the
 * name, source, author and comment in the title.
 */
export function ScoreBadges({ scores, max = 4, compact = false }: { scores: readonly Score[] | undefined; max?: number; compact?: boolean }) {
  if (!scores?.length) return null;
  const shown = scores.slice(0, max);
  return (
    <span className="score-badges" data-testid="score-badges">
      {shown.map((s) => (
        <span
          key={s.id}
          className={`badge score-${scoreTone(s.value)}`}
          title={`${s.name}: ${fmtScoreValue(s.value)} · ${s.source}${s.author ? ` by ${s.author}` : ''}${s.comment ? ` — ${s.comment}` : ''}`}
          data-score-name={s.name}
        >
          {compact ? fmtScoreValue(s.value) : `${s.name}: ${fmtScoreValue(s.value)}`}
        </span>
      ))}
      {scores.length > max ? <span className="muted"> +{scores.length - max}</span> : null}
    </span>
  );
}

/** Every score of a target, with who gave it and their comment. */
export function ScoreList({ scores, label }: { scores: readonly Score[]; label: string }) {
  if (!scores.length) return <p className="muted">No scores yet.</p>;
  return (
    <table className="grid scores" aria-label={label} data-testid="score-list">
      <thead>
        <tr>
          <th>Name</th>
          <th>Value</th>
          <th>Source</th>
          <th>Comment</th>
          <th>When</th>
        </tr>
      </thead>
      <tbody>
        {scores.map((s) => (
          <tr key={s.id} data-testid="score-row">
            <td>{s.name}</td>
            <td>
              <span className={`badge score-${scoreTone(s.value)}`}>{fmtScoreValue(s.value)}</span>
            </td>
            <td>
              {s.source}
              {s.author ? <span className="muted"> · {s.author}</span> : null}
            </td>
            <td className="wrap">{s.comment ?? ''}</td>
            <td>{fmtTime(s.createdAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export type ScoreTarget = { runId: string } | { stepId: string } | { stepId: string; key: string };

/** What a comment without a score is stored as: a score named `comment` with the label `note`. */
export const COMMENT_SCORE = { name: 'comment', value: 'note' } as const;

/**
 * Lets a signed-in user score a run, a step or a candidate, or leave a comment on it: a
 * `POST /v1/scores` with source `human` and the key's name as author. Shown to keys that may
 * create scores (ingest, feedback, admin).
 */
export function AddScore({ target, runId, what }: { target: ScoreTarget; runId: string; what: string }) {
  const { info } = useSession();
  const queryClient = useQueryClient();
  const id = useId();
  const [open, setOpen] = useState<false | 'score' | 'comment'>(false);
  const [name, setName] = useState('');
  const [kind, setKind] = useState<ValueKind>('boolean');
  const [value, setValue] = useState('true');
  const [comment, setComment] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const add = useMutation({
    mutationFn: (body: sdk.CreateScoreDto) => call(sdk.createScore({ client: api, body })),
    onSuccess: async () => {
      setOpen(false);
      setName('');
      setComment('');
      setProblem(null);
      await queryClient.invalidateQueries({ queryKey: ['scores', runId] });
    },
  });
  if (!canScore(info?.scopes)) return null;
  if (!open)
    return (
      <span className="row add-score">
        <button type="button" onClick={() => setOpen('score')} aria-label={`Add a score to ${what}`}>
          + Score
        </button>
        <button type="button" onClick={() => setOpen('comment')} aria-label={`Comment on ${what}`}>
          + Comment
        </button>
      </span>
    );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const author = info?.keyName ?? undefined;
    if (open === 'comment') {
      if (!comment.trim()) return setProblem('Write a comment');
      add.mutate({ ...target, ...COMMENT_SCORE, comment: comment.trim(), source: 'human', ...(author ? { author } : {}) });
      return;
    }
    if (!name.trim()) return setProblem('Name the score (e.g. correct)');
    const parsed = parseScoreInput(kind, value);
    if ('error' in parsed) return setProblem(parsed.error);
    add.mutate({
      ...target,
      name: name.trim(),
      value: parsed.value,
      source: 'human',
      ...(comment.trim() ? { comment: comment.trim() } : {}),
      ...(author ? { author } : {}),
    });
  };
  return (
    <form className="filters add-score-form" onSubmit={submit} aria-label={open === 'comment' ? `Comment on ${what}` : `Add a score to ${what}`}>
      {open === 'score' ? (
        <>
          <label htmlFor={`${id}-name`}>
            Score name
            <input id={`${id}-name`} value={name} onChange={(e) => setName(e.target.value)} placeholder="correct" maxLength={200} />
          </label>
          <label htmlFor={`${id}-kind`}>
            Kind
            <select
              id={`${id}-kind`}
              value={kind}
              onChange={(e) => {
                const k = e.target.value as ValueKind;
                setKind(k);
                setValue(k === 'boolean' ? 'true' : '');
              }}
            >
              <option value="boolean">true / false</option>
              <option value="number">number</option>
              <option value="label">label</option>
            </select>
          </label>
          <label htmlFor={`${id}-value`}>
            Value
            {kind === 'boolean' ? (
              <select id={`${id}-value`} value={value} onChange={(e) => setValue(e.target.value)}>
                <option value="true">true</option>
                <option value="false">false</option>
              </select>
            ) : (
              <input
                id={`${id}-value`}
                value={value}
                inputMode={kind === 'number' ? 'decimal' : undefined}
                onChange={(e) => setValue(e.target.value)}
                placeholder={kind === 'number' ? '0.8' : 'good'}
                maxLength={200}
              />
            )}
          </label>
        </>
      ) : null}
      <label htmlFor={`${id}-comment`}>
        Comment
        <input id={`${id}-comment`} value={comment} onChange={(e) => setComment(e.target.value)} maxLength={4000} placeholder="why" />
      </label>
      <button type="submit" className="primary" disabled={add.isPending}>
        {add.isPending ? 'Saving…' : 'Save'}
      </button>
      <button type="button" onClick={() => (setOpen(false), setProblem(null))}>
        Cancel
      </button>
      {problem ? (
        <span className="check-failed" role="alert">
          {problem}
        </span>
      ) : null}
      {add.error ? <ErrorBox error={add.error} /> : null}
    </form>
  );
}
