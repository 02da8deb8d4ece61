import { useEffect, useRef } from 'react';

const typing = (t: EventTarget | null) => t instanceof HTMLElement && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName));

/**
 * j/k move the selection through a list, Enter opens it. One list owns the keys at a time (the
 * one whose hook was mounted last and is enabled).
 */
export function useListKeys(opts: { count: number; index: number; onMove: (i: number) => void; onOpen?: (i: number) => void; enabled?: boolean }): void {
  const ref = useRef(opts);
  ref.current = opts;
  useEffect(() => {
    if (opts.enabled === false) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented || e.metaKey || e.ctrlKey || e.altKey || typing(e.target)) return;
      const { count, index, onMove, onOpen } = ref.current;
      if (!count) return;
      if (e.key === 'j') {
        e.preventDefault();
        onMove(Math.min(count - 1, index < 0 ? 0 : index + 1));
      } else if (e.key === 'k') {
        e.preventDefault();
        onMove(Math.max(0, index < 0 ? 0 : index - 1));
      } else if (e.key === 'Enter' && onOpen && index >= 0 && !(e.target instanceof HTMLButtonElement) && !(e.target instanceof HTMLAnchorElement)) {
        e.preventDefault();
        onOpen(index);
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [opts.enabled]);
}

/** `/` focuses the view's search field, `Esc` leaves a field or goes back. */
export function useGlobalKeys(): void {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.metaKey || e.ctrlKey || e.altKey) return;
      if (e.key === '/' && !typing(e.target)) {
        const el = document.querySelector<HTMLElement>('[data-search]');
        if (el) {
          e.preventDefault();
          el.focus();
        }
      } else if (e.key === 'Escape') {
        if (typing(e.target)) (e.target as HTMLElement).blur();
        else if (!e.defaultPrevented && window.history.length > 1) window.history.back();
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);
}
