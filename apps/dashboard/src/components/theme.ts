const KEY = 'xray.theme';

/** Dark mode follows the system unless the user picked one (kept on this device). */
export function applyStoredTheme(): void {
  let t: string | null = null;
  try {
    t = localStorage.getItem(KEY);
  } catch {
    /* no storage */
  }
  if (t === 'dark' || t === 'light') document.documentElement.dataset.theme = t;
}

export function currentTheme(): 'dark' | 'light' {
  const t = document.documentElement.dataset.theme;
  if (t === 'dark' || t === 'light') return t;
  return window.matchMedia?.('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

export function toggleTheme(): 'dark' | 'light' {
  const next = currentTheme() === 'dark' ? 'light' : 'dark';
  document.documentElement.dataset.theme = next;
  try {
    localStorage.setItem(KEY, next);
  } catch {
    /* no storage */
  }
  return next;
}
