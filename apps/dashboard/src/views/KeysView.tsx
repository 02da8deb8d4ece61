import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, call } from '../api/client.js';
import * as sdk from '../api/sdk.js';
import { hasScope, useSession } from '../api/session.js';
import { ErrorBox, Loading } from '../components/common.js';
import { fmtTime } from '../lib/format.js';

const SCOPES = ['read', 'ingest', 'delete', 'admin'] as const;

export function KeysView() {
  const { info } = useSession();
  const qc = useQueryClient();
  const admin = hasScope(info, 'admin');
  // Asked even without admin (the link is hidden then): the API's 403 names the missing scope.
  const keys = useQuery({ queryKey: ['api-keys'], queryFn: () => call(sdk.listApiKeys({ client: api })) });
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<Set<(typeof SCOPES)[number]>>(() => new Set(['read']));
  const [secret, setSecret] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  const create = useMutation({
    mutationFn: () => call(sdk.createApiKey({ client: api, body: { name: name.trim(), scopes: [...scopes] } })),
    onSuccess: (k) => {
      setSecret(k.key);
      setCopied(false);
      setName('');
      void qc.invalidateQueries({ queryKey: ['api-keys'] });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => call(sdk.revokeApiKey({ client: api, path: { id } })),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ['api-keys'] }),
  });
  if (!admin) {
    return (
      <div>
        <h1>API keys</h1>
        {keys.isPending ? <Loading what="Loading keys" /> : null}
        {keys.error ? <ErrorBox error={keys.error} /> : null}
        <p className="muted">Managing keys needs an admin key; this key has {info?.scopes.join(', ') || 'no'} scope(s).</p>
      </div>
    );
  }
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (name.trim() && scopes.size) create.mutate();
  };
  return (
    <div>
      <h1>API keys</h1>
      <form className="filters" onSubmit={submit} aria-label="Create a key">
        <label htmlFor="key-name">
          Name
          <input id="key-name" value={name} onChange={(e) => setName(e.target.value)} placeholder="nightly pipeline" />
        </label>
        <fieldset className="row" style={{ border: 0, padding: 0, margin: 0 }}>
          <legend className="muted" style={{ fontSize: 12 }}>
            Scopes
          </legend>
          {SCOPES.map((s) => (
            <label key={s} className="row" htmlFor={`scope-${s}`} style={{ flexDirection: 'row' }}>
              <input
                id={`scope-${s}`}
                type="checkbox"
                checked={scopes.has(s)}
                onChange={(e) => {
                  const n = new Set(scopes);
                  if (e.target.checked) n.add(s);
                  else n.delete(s);
                  setScopes(n);
                }}
              />
              {s}
            </label>
          ))}
        </fieldset>
        <button type="submit" className="primary" disabled={!name.trim() || !scopes.size || create.isPending}>
          Create key
        </button>
      </form>
      {create.error ? <ErrorBox error={create.error} /> : null}
      {secret ? (
        <div className="secret" role="status" data-testid="new-secret">
          <p style={{ margin: '0 0 6px' }}>The new key, shown only now. Store it:</p>
          <code>{secret}</code>{' '}
          <button
            type="button"
            onClick={() => {
              void navigator.clipboard?.writeText(secret).then(
                () => setCopied(true),
                () => setCopied(false),
              );
            }}
          >
            {copied ? 'Copied' : 'Copy'}
          </button>{' '}
          <button type="button" onClick={() => setSecret(null)}>
            Done
          </button>
        </div>
      ) : null}
      {keys.isPending ? <Loading what="Loading keys" /> : null}
      {keys.error ? <ErrorBox error={keys.error} /> : null}
      {revoke.error ? <ErrorBox error={revoke.error} /> : null}
      {keys.data ? (
        <table className="grid" aria-label="API keys" data-testid="keys">
          <thead>
            <tr>
              <th>Name</th>
              <th>Prefix</th>
              <th>Scopes</th>
              <th>Created</th>
              <th>Last used</th>
              <th>Expires</th>
              <th>State</th>
              <th>
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.data.items.map((k) => (
              <tr key={k.id} data-testid="key-row">
                <td>{k.name}</td>
                <td className="mono">{k.prefix}…</td>
                <td>{k.scopes.join(', ')}</td>
                <td>{fmtTime(k.createdAt)}</td>
                <td>{fmtTime(k.lastUsedAt)}</td>
                <td>{fmtTime(k.expiresAt)}</td>
                <td>{k.revokedAt ? `revoked ${fmtTime(k.revokedAt)}` : k.id === info?.keyId ? 'active (this key)' : 'active'}</td>
                <td>
                  {!k.revokedAt && k.id !== info?.keyId ? (
                    <button
                      type="button"
                      onClick={() => {
                        if (window.confirm(`Revoke the key “${k.name}”? Clients using it will get 401.`)) revoke.mutate(k.id);
                      }}
                    >
                      Revoke
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}
