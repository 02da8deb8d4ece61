import { useState, type ReactNode } from 'react';
import { JsonView, allExpanded, collapseAllNested } from 'react-json-view-lite';
import { describeError } from '../api/client.js';

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge st-${status}`}>{status.replace('_', ' ')}</span>;
}

export function DecisionBadge({ decision }: { decision: string }) {
  return <span className={`badge d-${decision}`}>{decision}</span>;
}

export function ErrorBox({ error }: { error: unknown }) {
  return (
    <div className="error-box" role="alert">
      {describeError(error)}
    </div>
  );
}

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p className="muted" aria-busy="true">
      {what}…
    </p>
  );
}

const JSON_STYLES = {
  container: 'jv-container',
  basicChildStyle: 'jv-child',
  label: 'jv-label',
  clickableLabel: 'jv-label',
  nullValue: 'jv-null',
  undefinedValue: 'jv-undefined',
  numberValue: 'jv-number',
  stringValue: 'jv-string',
  booleanValue: 'jv-boolean',
  otherValue: 'jv-basic',
  punctuation: 'jv-punct',
  expandIcon: 'jv-expander jv-expand',
  collapseIcon: 'jv-expander jv-collapse',
  collapsedContent: 'jv-collapsed',
  childFieldsContainer: 'jv-fields',
  noQuotesForStringValues: false,
  quotesForFieldNames: false,
  ariaLables: { collapseJson: 'collapse JSON', expandJson: 'expand JSON' },
  stringifyStringValues: false,
};

/** Hands a blob to the browser as a download named `fileName`. */
export function saveBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Above this many characters of JSON text a payload shows a preview, "show all" and "download". */
export const JSON_GATE = 100_000;
/** Above the gate, "show all" renders plain text: a tree of that many nodes would freeze the tab. */
const TREE_LIMIT = JSON_GATE;

/**
 * A JSON payload, rendered as text (never HTML). Big ones are gated: a preview first, the full
 * text on request, and a download that never renders it.
 */
export function JsonBlock({ value, name, truncatedPreview }: { value: unknown; name: string; truncatedPreview?: boolean }) {
  const [showAll, setShowAll] = useState(false);
  if (value === undefined) return <span className="muted">—</span>;
  if (value === null) return <code>null</code>;
  if (typeof value === 'string' && truncatedPreview) {
    return (
      <div className="json-box">
        <pre>{value}</pre>
        <p className="notice">Preview only: the list left the full value out.</p>
      </div>
    );
  }
  const text = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  const big = text.length > JSON_GATE;
  const download = () => saveBlob(new Blob([text], { type: 'application/json' }), `${name}.json`);
  if (big && !showAll) {
    return (
      <div className="json-box" data-gated="true">
        <pre>{text.slice(0, 2000)}…</pre>
        <p className="notice">
          {name} is {(text.length / 1024).toFixed(0)} KiB; showing the first 2,000 characters.{' '}
          <button type="button" onClick={() => setShowAll(true)}>
            Show all
          </button>{' '}
          <button type="button" onClick={download}>
            Download
          </button>
        </p>
      </div>
    );
  }
  if (typeof value !== 'object' || text.length > TREE_LIMIT) {
    return (
      <div className="json-box">
        <pre>{text}</pre>
        {big ? (
          <button type="button" onClick={download}>
            Download
          </button>
        ) : null}
      </div>
    );
  }
  return (
    <div className="json-box">
      <JsonView data={value as object} style={JSON_STYLES} shouldExpandNode={text.length < 4000 ? allExpanded : collapseAllNested} />
    </div>
  );
}

export function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div>
      <span>{label}</span>
      <span>{children}</span>
    </div>
  );
}

export function EmptyProject() {
  const origin = window.location.origin;
  const sdk = `import { XrayClient } from '@xray-sys/sdk';

const xray = new XrayClient({ baseUrl: '${origin}', apiKey: process.env.XRAY_API_KEY });
const run = await xray.startRun({ pipeline: 'competitor-selection', input: { title: 'Adjustable laptop stand' } });
await run.step('filter-by-price', async (step) => {
  step.candidates([{ key: 'B0AAA', decision: 'accepted' }, { key: 'B0XYZ', decision: 'rejected', reason: 'price above $50' }]);
}, { type: 'filter' });
await run.complete({ output: { selected: 'B0AAA' } });
await xray.shutdown();`;
  const curl = `curl -X POST ${origin}/v1/runs -H "Authorization: Bearer $XRAY_API_KEY" \\
  -H 'Content-Type: application/json' -d '{"pipeline":"competitor-selection","input":{"title":"Adjustable laptop stand"}}'`;
  return (
    <section className="empty" aria-label="Send a first run">
      <h2>No runs yet</h2>
      <p>Send a first run to this server ({origin}) with the SDK, the API, or the example pipeline:</p>
      <h3>SDK</h3>
      <pre>{sdk}</pre>
      <h3>curl</h3>
      <pre>{curl}</pre>
      <h3>Example pipeline</h3>
      <pre>{`XRAY_BASE_URL=${origin} XRAY_API_KEY=xr_... npm run example -- competitor-selection`}</pre>
    </section>
  );
}
