import { useState, type FormEvent } from 'react';
import { ApiFailure, unauthorized } from '../api/client.js';
import { signIn } from '../api/session.js';

export function SignIn({ message }: { message: string | null }) {
  const [key, setKey] = useState('');
  const [remember, setRemember] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!key.trim()) return;
    setBusy(true);
    setError(null);
    try {
      await signIn(key, remember);
    } catch (err) {
      // Never echo the key back, nor keep it in the field; a failed sign-in is not a lost session.
      unauthorized.set(null);
      setKey('');
      setError(
        err instanceof ApiFailure && err.status === 401
          ? 'This key is not valid: it is unknown, revoked or expired.'
          : err instanceof ApiFailure
            ? err.message
            : 'The API could not be reached.',
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="signin" onSubmit={(e) => void submit(e)} aria-labelledby="signin-title">
      <h1 id="signin-title">Sign in to xray</h1>
      {message ? (
        <p className="notice" role="alert">
          {message}
        </p>
      ) : null}
      <p className="muted">Paste a project API key (the first start of the server prints one). It stays in this browser and is sent only to this server.</p>
      <label htmlFor="api-key">API key</label>
      <input
        id="api-key"
        type="password"
        autoComplete="off"
        spellCheck={false}
        value={key}
        onChange={(e) => setKey(e.target.value)}
        placeholder="xr_…"
        autoFocus
      />
      <label className="row">
        <input type="checkbox" checked={remember} onChange={(e) => setRemember(e.target.checked)} /> Remember on this device
      </label>
      {error ? (
        <p className="error-box" role="alert">
          {error}
        </p>
      ) : null}
      <p>
        <button type="submit" className="primary" disabled={busy || !key.trim()}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </p>
    </form>
  );
}
