import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, call } from '../api/client.js';
import * as sdk from '../api/sdk.js';
import { hasScope, useSession } from '../api/session.js';
import { ErrorBox, Loading } from '../components/common.js';
import { fmtTime } from '../lib/format.js';
import { describeRetention, MAX_RETENTION_DAYS, parseRetentionDays } from '../lib/retention.js';

/** The key's project: its retention, which an admin key may change. */
export function ProjectView() {
  const { info } = useSession();
  const qc = useQueryClient();
  const admin = hasScope(info, 'admin');
  const project = useQuery({ queryKey: ['project'], queryFn: async () => (await call(sdk.listProjects({ client: api }))).items[0] ?? null });
  const [days, setDays] = useState('');
  const [invalid, setInvalid] = useState<string | null>(null);
  const save = useMutation({
    mutationFn: (retentionDays: number | null) => call(sdk.updateOwnProject({ client: api, body: { retentionDays } })),
    onSuccess: (p) => {
      qc.setQueryData(['project'], p);
      setDays('');
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const parsed = parseRetentionDays(days);
    if ('error' in parsed) return setInvalid(parsed.error);
    setInvalid(null);
    save.mutate(parsed.days);
  };

  if (project.isPending) return <Loading what="Loading the project" />;
  if (project.error) return <ErrorBox error={project.error} />;
  const p = project.data;
  return (
    <div>
      <h1>Project {p?.name}</h1>
      {p ? <p className="muted">Created {fmtTime(p.createdAt)}.</p> : null}
      <h2>Retention</h2>
      <p data-testid="retention">
        <b>{p?.retentionDays == null ? 'Server default' : `${p.retentionDays} days`}</b> — {describeRetention(p?.retentionDays ?? null)}
      </p>
      {admin ? (
        <form className="filters" onSubmit={submit} aria-label="Set the retention">
          <label htmlFor="retention-days">
            Keep runs for (days)
            <input
              id="retention-days"
              inputMode="numeric"
              value={days}
              onChange={(e) => setDays(e.target.value)}
              placeholder={String(p?.retentionDays ?? 30)}
              aria-describedby="retention-hint"
              aria-invalid={invalid ? true : undefined}
            />
          </label>
          <button type="submit" className="primary" disabled={!days.trim() || save.isPending}>
            Save
          </button>
          <button type="button" disabled={p?.retentionDays == null || save.isPending} onClick={() => save.mutate(null)}>
            Use the server default
          </button>
          <span id="retention-hint" className="muted">
            1 to {MAX_RETENTION_DAYS}. Older runs are deleted in the background, a few hundred at a time.
          </span>
        </form>
      ) : (
        <p className="muted">Changing it needs an admin key.</p>
      )}
      {invalid ? (
        <div className="error-box" role="alert">
          {invalid}
        </div>
      ) : null}
      {save.error ? <ErrorBox error={save.error} /> : null}
    </div>
  );
}
