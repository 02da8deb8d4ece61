import { useSyncExternalStore } from 'react';
import { api, call, setApiKey, unauthorized } from './client.js';
import * as sdk from './sdk.js';
import type { KeyInfoDto } from './sdk.js';

export type KeyInfo = KeyInfoDto;

const STORAGE = 'xray.apiKey';

interface SessionState {
  key: string | null;
  info: KeyInfo | null;
}

let state: SessionState = { key: null, info: null };
const listeners = new Set<() => void>();
const emit = (next: SessionState) => {
  state = next;
  for (const l of listeners) l();
};

/** The key stored on this device or in this tab, if any (never put in a URL or a log). */
export function storedKey(): string | null {
  try {
    return sessionStorage.getItem(STORAGE) ?? localStorage.getItem(STORAGE);
  } catch {
    return null;
  }
}

/** Asks the API who this key is; throws ApiFailure (401 for a bad key). */
export async function fetchKeyInfo(key: string): Promise<KeyInfo> {
  setApiKey(key);
  return call(sdk.getKeyInfo({ client: api }));
}

export async function signIn(key: string, remember: boolean): Promise<KeyInfo> {
  const info = await fetchKeyInfo(key.trim());
  try {
    sessionStorage.setItem(STORAGE, key.trim());
    if (remember) localStorage.setItem(STORAGE, key.trim());
    else localStorage.removeItem(STORAGE);
  } catch {
    /* storage unavailable: the session lasts as long as the page */
  }
  unauthorized.set(null);
  emit({ key: key.trim(), info });
  return info;
}

export function signOut(): void {
  try {
    sessionStorage.removeItem(STORAGE);
    localStorage.removeItem(STORAGE);
  } catch {
    /* nothing stored */
  }
  setApiKey(null);
  emit({ key: null, info: null });
}

/** Restores a stored key at start (its info is asked again; a revoked key ends the session). */
export async function restoreSession(): Promise<void> {
  const key = storedKey();
  if (!key) return;
  try {
    const info = await fetchKeyInfo(key);
    emit({ key, info });
  } catch {
    signOut();
  }
}

export function useSession(): SessionState {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => state,
  );
}

export function hasScope(info: KeyInfo | null, scope: 'read' | 'ingest' | 'delete' | 'admin'): boolean {
  if (!info) return false;
  if (info.root) return false;
  return info.scopes.includes('admin') || info.scopes.includes(scope);
}
