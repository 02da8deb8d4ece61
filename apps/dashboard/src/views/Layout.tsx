import { Link, Outlet, useRouterState } from '@tanstack/react-router';
import { useQueryClient } from '@tanstack/react-query';
import { Suspense, useEffect, useState, useSyncExternalStore } from 'react';
import { outage, unauthorized } from '../api/client.js';
import { hasScope, signOut, useSession } from '../api/session.js';
import { useGlobalKeys } from '../components/keys.js';
import { currentTheme, toggleTheme } from '../components/theme.js';
import { Loading } from '../components/common.js';
import { SignIn } from './SignIn.js';

function OutageBanner() {
  const o = useSyncExternalStore(outage.subscribe, outage.get);
  const [, tick] = useState(0);
  useEffect(() => {
    if (!o) return;
    const t = setInterval(() => tick((n) => n + 1), 1000);
    return () => clearInterval(t);
  }, [o]);
  if (!o) return null;
  return (
    <div className="banner" role="status" data-testid="outage-banner">
      {o.message}
    </div>
  );
}

export function Layout() {
  useGlobalKeys();
  const session = useSession();
  const expired = useSyncExternalStore(unauthorized.subscribe, unauthorized.get);
  const queryClient = useQueryClient();
  const [theme, setTheme] = useState(currentTheme);
  const pathname = useRouterState({ select: (s) => s.location.pathname });

  useEffect(() => {
    // A 401 from any call (revoked or expired key) ends the session; sign-in says why.
    if (expired && session.key) {
      signOut();
      queryClient.clear();
    }
  }, [expired, session.key, queryClient]);

  if (!session.key || !session.info) {
    return (
      <div className="app">
        <OutageBanner />
        <main>
          <SignIn message={expired ? `You were signed out: ${expired}. Sign in again with a valid key.` : null} />
        </main>
      </div>
    );
  }
  const info = session.info;
  const isAdmin = hasScope(info, 'admin');
  const canRead = hasScope(info, 'read');
  const fill = /\/runs\/[^/]+\/?$/.test(pathname);
  return (
    <div className="app">
      <header className="topbar">
        <Link to="/runs" className="brand">
          xray
        </Link>
        <nav aria-label="Views">
          {canRead ? (
            <>
              <Link to="/runs" activeOptions={{ exact: false }}>
                Runs
              </Link>
              <Link to="/steps">Steps</Link>
              <Link to="/items">Items</Link>
              <Link to="/analytics">Analytics</Link>
              <Link to="/settings/project">Project</Link>
            </>
          ) : null}
          {isAdmin ? <Link to="/settings/keys">Keys</Link> : null}
        </nav>
        <span className="spacer" />
        <span className="muted" data-testid="who">
          {info.projectName ?? 'project'} · {info.keyName ?? 'key'} ({info.scopes.join(', ')})
        </span>
        <button type="button" onClick={() => setTheme(toggleTheme())} aria-label={`Switch to ${theme === 'dark' ? 'light' : 'dark'} mode`}>
          {theme === 'dark' ? 'Light' : 'Dark'}
        </button>
        <button
          type="button"
          onClick={() => {
            signOut();
            queryClient.clear();
          }}
        >
          Sign out
        </button>
      </header>
      <OutageBanner />
      <main className={fill ? 'fill' : undefined}>
        {canRead || pathname.includes('/settings/') ? (
          <Suspense fallback={<Loading />}>
            <Outlet />
          </Suspense>
        ) : info.root ? (
          <div className="error-box" role="alert">
            This is the operator (root) key: it manages projects, not a project's runs. Sign in with a project API key to use the dashboard.
          </div>
        ) : (
          <div className="error-box" role="alert">
            This key has the scopes {info.scopes.join(', ') || 'none'}; the dashboard's views need the <b>read</b> scope (or admin).
          </div>
        )}
      </main>
    </div>
  );
}
