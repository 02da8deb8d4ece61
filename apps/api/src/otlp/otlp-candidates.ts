import { createHash } from 'node:crypto';
import type { Attributes, OtlpValue } from './otlp-decode.js';

/**
 * Candidates from OpenInference document lists (flattened attributes, zero-based):
 * - a retriever's `retrieval.documents.N.document.{id,score,content,metadata}`, or GenAI's
 *   `gen_ai.retrieval.documents` (a list of `{id, score}`): each document retrieved is
 *   `accepted`, ranked by its position;
 * - a reranker's `reranker.output_documents.N.document.*` are `selected` with their rank and
 *   score; its `reranker.input_documents.N.document.*` missing from the output are `rejected`,
 *   the reason naming the cut (`reranker.top_k`).
 * Key = the document id, else a hash of its content, else its position. A key repeated is taken once.
 * An `xray.candidates` attribute (a JSON list in xray's candidate shape, or the same as an
 * array value) gives explicit decisions, which win over derived ones of the same key; its
 * entries are checked like any candidate batch when the event is read.
 */

export interface DerivedCandidate {
  key: string;
  decision: 'accepted' | 'rejected' | 'selected';
  rank?: number;
  score?: number;
  reason?: string;
  data?: Record<string, unknown>;
}

const LISTS = ['retrieval.documents', 'reranker.input_documents', 'reranker.output_documents'];
const ITEM = /^(retrieval\.documents|reranker\.input_documents|reranker\.output_documents)\.(\d{1,6})\.document\.(id|score|content|metadata)$/;

/** GenAI's retrieved documents: one attribute, a list of `{id, score, …}` (structured, or JSON text). */
const GENAI_DOCUMENTS = 'gen_ai.retrieval.documents';

/** Whether an attribute belongs to a document list (mapped to candidates, not kept in metadata). */
export const isDocumentAttribute = (key: string): boolean => key === GENAI_DOCUMENTS || ITEM.test(key);

/** `gen_ai.retrieval.documents` as documents: `id`, `score`, `content` as named, any other field kept as metadata. */
function genAiDocuments(value: OtlpValue | undefined): Document[] {
  const list = value === undefined || value === null ? [] : parsedJson(value);
  if (!Array.isArray(list)) return [];
  return list.flatMap((item, position) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return [];
    const { id, score, content, ...rest } = item;
    return [
      {
        position,
        ...((typeof id === 'string' || typeof id === 'number') && String(id) !== '' ? { id: String(id) } : {}),
        ...(typeof score === 'number' && Number.isFinite(score) ? { score } : {}),
        ...(content !== undefined && content !== null ? { content } : {}),
        ...(Object.keys(rest).length ? { metadata: rest } : {}),
      },
    ];
  });
}

interface Document {
  position: number;
  id?: string;
  score?: number;
  content?: OtlpValue;
  metadata?: OtlpValue;
}

function documents(attributes: Attributes, list: string): Document[] {
  const byIndex = new Map<number, Document>();
  for (const [key, value] of Object.entries(attributes)) {
    const m = ITEM.exec(key);
    if (!m || m[1] !== list) continue;
    const position = Number(m[2]);
    const doc = byIndex.get(position) ?? { position };
    if (m[3] === 'id' && (typeof value === 'string' || typeof value === 'number') && String(value) !== '') doc.id = String(value);
    else if (m[3] === 'score' && typeof value === 'number' && Number.isFinite(value)) doc.score = value;
    else if (m[3] === 'content') doc.content = value;
    else if (m[3] === 'metadata') doc.metadata = parsedJson(value);
    byIndex.set(position, doc);
  }
  return [...byIndex.values()].sort((a, b) => a.position - b.position);
}

/** A JSON string parsed; anything else, or a string that is not JSON, as it is. */
export function parsedJson(value: OtlpValue): OtlpValue {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as OtlpValue;
  } catch {
    return value;
  }
}

/** The document id; without one, a hash of its content (the same document gets the same key in every list); else its position. */
const keyOf = (d: Document) =>
  (d.id ?? (d.content !== undefined ? `content:${createHash('sha1').update(JSON.stringify(d.content)).digest('hex').slice(0, 16)}` : String(d.position))).slice(
    0,
    500,
  );
const dataOf = (d: Document) =>
  d.content !== undefined || d.metadata !== undefined
    ? { data: { ...(d.content !== undefined ? { content: d.content } : {}), ...(d.metadata !== undefined ? { metadata: d.metadata } : {}) } }
    : {};
const scoreOf = (d: Document) => (d.score !== undefined ? { score: d.score } : {});

/** A span's candidates: its explicit ones (`xray.candidates`), then those its document lists give for other keys. */
export function candidatesOf(attributes: Attributes): unknown[] {
  const explicit = explicitCandidates(attributes['xray.candidates']);
  const explicitKeys = new Set(explicit.map((c) => (typeof c === 'object' && c !== null ? (c as { key?: unknown }).key : undefined)));
  return [...explicit, ...documentCandidates(attributes).filter((c) => !explicitKeys.has(c.key))];
}

/** The candidates a span's document lists give, or an empty list. */
export function documentCandidates(attributes: Attributes): DerivedCandidate[] {
  if (!Object.keys(attributes).some(isDocumentAttribute)) return [];
  const out = new Map<string, DerivedCandidate>();
  const add = (c: DerivedCandidate) => {
    if (!out.has(c.key)) out.set(c.key, c);
  };
  const retrieved = [...documents(attributes, LISTS[0]), ...genAiDocuments(attributes[GENAI_DOCUMENTS])];
  retrieved.forEach((d, i) => add({ key: keyOf(d), decision: 'accepted', rank: i + 1, ...scoreOf(d), ...dataOf(d) }));
  const outputs = documents(attributes, LISTS[2]);
  outputs.forEach((d, i) => add({ key: keyOf(d), decision: 'selected', rank: i + 1, ...scoreOf(d), ...dataOf(d) }));
  const kept = new Set(outputs.map(keyOf));
  const topK = attributes['reranker.top_k'];
  const cut = typeof topK === 'number' ? `not in the reranker's top ${topK}` : `not among the reranker's ${outputs.length} output documents`;
  for (const d of documents(attributes, LISTS[1])) {
    if (!kept.has(keyOf(d))) add({ key: keyOf(d), decision: 'rejected', reason: cut, ...scoreOf(d), ...dataOf(d) });
  }
  return [...out.values()];
}

/** The entries of `xray.candidates`, as sent (not a list: none). */
function explicitCandidates(value: OtlpValue | undefined): unknown[] {
  if (value === undefined || value === null) return [];
  const list = parsedJson(value);
  return Array.isArray(list) ? list : [];
}
