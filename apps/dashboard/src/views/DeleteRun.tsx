import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useNavigate } from '@tanstack/react-router';
import { useRef } from 'react';
import { api, call } from '../api/client.js';
import * as sdk from '../api/sdk.js';
import { hasScope, useSession } from '../api/session.js';
import { ErrorBox } from '../components/common.js';
import { fmtInt } from '../lib/funnel.js';

/**
 * "Delete run" for keys with the delete scope (or admin), behind a confirmation dialog; once the
 * run is deleted, back to the runs of its pipeline.
 */
export function DeleteRun({ run }: { run: { id: string; pipeline: string; stepCount?: number | null } }) {
  const { info } = useSession();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const dialog = useRef<HTMLDialogElement>(null);
  const remove = useMutation({
    mutationFn: () => call(sdk.deleteRun({ client: api, path: { id: run.id } })),
    onSuccess: async () => {
      dialog.current?.close();
      await navigate({ to: '/runs', search: { pipeline: run.pipeline } });
      // Only once the run view is gone, so nothing asks for the run again.
      qc.removeQueries({ queryKey: ['run', run.id] });
      qc.removeQueries({ queryKey: ['run-steps', run.id] });
      void qc.invalidateQueries({ queryKey: ['runs'] });
    },
  });
  if (!hasScope(info, 'delete')) return null;
  const steps = run.stepCount ?? 0;
  return (
    <>
      <button type="button" className="danger" onClick={() => dialog.current?.showModal()}>
        Delete run
      </button>
      <dialog
        ref={dialog}
        className="confirm"
        aria-labelledby="delete-run-title"
        aria-describedby="delete-run-text"
        onKeyDown={(e) => {
          // Esc closes the dialog only (the app's Esc goes back a page).
          if (e.key === 'Escape') {
            e.preventDefault();
            dialog.current?.close();
          }
        }}
      >
        <h2 id="delete-run-title">Delete this run?</h2>
        <p id="delete-run-text">
          The run <span className="mono">{run.id}</span> of {run.pipeline}, its {fmtInt(steps)} step{steps === 1 ? '' : 's'} and their candidates are removed,
          and analytics stops counting them. This cannot be undone, and the run’s id cannot be used again.
        </p>
        {remove.error ? <ErrorBox error={remove.error} /> : null}
        <div className="row">
          <button type="button" className="danger" onClick={() => remove.mutate()} disabled={remove.isPending}>
            {remove.isPending ? 'Deleting…' : 'Delete'}
          </button>
          <button type="button" onClick={() => dialog.current?.close()} autoFocus>
            Cancel
          </button>
        </div>
      </dialog>
    </>
  );
}
