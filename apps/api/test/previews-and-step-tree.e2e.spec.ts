import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { createTestApp, expectError, type TestApp } from './harness.js';

const PREVIEW = 100;

describe('bounded previews, getCandidate, the bounded step tree and listRunSteps', () => {
  let t: TestApp;
  let key: string;
  let otherKey: string;
  const auth = (k = key) => ({ Authorization: `Bearer ${k}` });
  const get = (path: string, k = key) => request(t.http).get(path).set(auth(k));
  const post = async (path: string, body: object, k = key) => {
    const res = await request(t.http).post(path).set(auth(k)).send(body);
    if (res.status >= 300) throw new Error(`${path}: ${res.status} ${res.text}`);
    return res.body;
  };
  /** PostgreSQL's JSON text of a stored value: what previews are cut from. */
  const jsonText = async (sql: string, params: unknown[]) => (await t.sql<{ text: string }>(sql, params))[0].text;
  const preview = (text: string) => `${[...text].slice(0, PREVIEW).join('')}…`;

  const big = { title: 'Adjustable laptop stand', description: 'aluminium, foldable, '.repeat(40) };
  const small = { selected: 'B0AAA' };

  beforeAll(async () => {
    t = await createTestApp({ XRAY_PREVIEW_CHARS: String(PREVIEW) });
    key = (await t.newProject('previews')).key;
    otherKey = (await t.newProject('previews-other')).key;
  });
  afterAll(async () => t?.close());

  describe('previews in list answers', () => {
    let runId: string;
    let stepId: string;

    beforeAll(async () => {
      runId = (await post('/v1/runs', { pipeline: 'preview-pipeline', input: big, output: small, metadata: { notes: 'n'.repeat(300) } })).id;
      stepId = (await post(`/v1/runs/${runId}/steps`, { name: 'filter-by-price', type: 'filter', input: small, output: big })).id;
      await post(`/v1/steps/${stepId}/candidates`, {
        candidates: [
          {
            key: 'B0BIG',
            decision: 'rejected',
            reason: 'price above $50',
            data: big,
            evaluations: Array.from({ length: 10 }, (_, i) => ({ check: `check-${i}`, passed: false, detail: '$89 > $50' })),
          },
          { key: 'B0SMALL', decision: 'accepted', data: small, evaluations: [{ check: 'price', passed: true }] },
        ],
      });
    });

    it('cuts run fields longer than XRAY_PREVIEW_CHARS in listRuns and names them; getRun answers the run in full', async () => {
      const list = await get('/v1/runs?pipeline=preview-pipeline');
      expect(list.status).toBe(200);
      const [item] = list.body.items;
      expect(item.truncated).toEqual(['input', 'metadata']);
      expect(item.input).toBe(preview(await jsonText('SELECT input::text AS text FROM runs WHERE id = $1', [runId])));
      expect(item.metadata).toBe(preview(await jsonText('SELECT metadata::text AS text FROM runs WHERE id = $1', [runId])));
      expect(item.input).toHaveLength(PREVIEW + 1);
      expect(item.output).toEqual(small);
      const run = await get(`/v1/runs/${runId}`);
      expect(run.body).toMatchObject({ input: big, output: small, metadata: { notes: 'n'.repeat(300) } });
      expect(run.body.truncated).toBeUndefined();
    });

    it('cuts at exactly the limit: a JSON text of XRAY_PREVIEW_CHARS characters stays whole, one more is cut', async () => {
      // A JSON string's text is its characters plus two quotes.
      const exact = (await post('/v1/runs', { pipeline: 'preview-edge', input: 'x'.repeat(PREVIEW - 2), output: 'y'.repeat(PREVIEW - 1) })).id;
      const [item] = (await get('/v1/runs?pipeline=preview-edge')).body.items;
      expect(item.id).toBe(exact);
      expect(item.input).toBe('x'.repeat(PREVIEW - 2));
      expect(item.output).toBe(`"${'y'.repeat(PREVIEW - 1)}…`);
      expect(item.truncated).toEqual(['output']);
    });

    it('counts characters, not bytes or UTF-16 units: a preview never splits a character', async () => {
      const text = 'ü✓😀'.repeat(60);
      await post('/v1/runs', { pipeline: 'preview-unicode', input: text });
      const [item] = (await get('/v1/runs?pipeline=preview-unicode')).body.items;
      expect(item.input).toBe(preview(JSON.stringify(text)));
      expect([...item.input]).toHaveLength(PREVIEW + 1);
      expect((item.input as unknown as { isWellFormed(): boolean }).isWellFormed()).toBe(true);
    });

    it('cuts step fields in searchSteps and in getRun’s step tree; getStep answers the step in full', async () => {
      const full = await jsonText('SELECT output::text AS text FROM steps WHERE id = $1', [stepId]);
      const search = await get('/v1/steps?pipeline=preview-pipeline');
      expect(search.body.items).toEqual([expect.objectContaining({ id: stepId, input: small, output: preview(full), metadata: {}, truncated: ['output'] })]);
      const run = await get(`/v1/runs/${runId}`);
      expect(run.body.steps).toEqual([
        expect.objectContaining({ id: stepId, input: small, output: preview(full), metadata: {}, truncated: ['output'], children: [] }),
      ]);
      const step = await get(`/v1/steps/${stepId}`);
      expect(step.body.output).toEqual(big);
      expect(step.body.truncated).toBeUndefined();
    });

    it('cuts candidate data and evaluations in listCandidates and searchCandidates; getCandidate answers one in full', async () => {
      const [full] = await t.sql<{ data: string; evaluations: string }>(
        'SELECT data::text AS data, evaluations::text AS evaluations FROM candidates WHERE step_id = $1 AND key = $2',
        [stepId, 'B0BIG'],
      );
      const list = await get(`/v1/steps/${stepId}/candidates`);
      expect(list.body.items).toEqual([
        expect.objectContaining({ key: 'B0BIG', data: preview(full.data), evaluations: preview(full.evaluations), truncated: ['evaluations', 'data'] }),
        expect.objectContaining({ key: 'B0SMALL', data: small, evaluations: [{ check: 'price', passed: true }], truncated: [] }),
      ]);
      const lineage = await get('/v1/candidates?key=B0BIG');
      expect(lineage.body.items).toEqual([
        expect.objectContaining({ stepId, key: 'B0BIG', data: preview(full.data), evaluations: preview(full.evaluations), truncated: ['evaluations', 'data'] }),
      ]);
      const one = await get(`/v1/steps/${stepId}/candidates/B0BIG`);
      expect(one.status).toBe(200);
      expect(one.body).toEqual({
        key: 'B0BIG',
        decision: 'rejected',
        score: null,
        rank: null,
        reason: 'price above $50',
        evaluations: Array.from({ length: 10 }, (_, i) => ({ check: `check-${i}`, passed: false, detail: '$89 > $50' })),
        data: big,
        createdAt: expect.any(String),
        scores: [],
      });
    });
  });

  describe('GET /v1/steps/:stepId/candidates/:key', () => {
    let stepId: string;
    const keys = ['a/b c?d#e%f&g=h', 'ключ-✓-😀', 'summary', '..', 'B0AAA', ' spaced ', 'x'.repeat(500)];

    beforeAll(async () => {
      const runId = (await post('/v1/runs', { pipeline: 'keys' })).id;
      stepId = (await post(`/v1/runs/${runId}/steps`, { name: 'rank' })).id;
      await post(`/v1/steps/${stepId}/candidates`, { candidates: keys.map((k, i) => ({ key: k, decision: 'accepted', score: i })) });
    });

    it('finds a key of any characters, URL-encoded', async () => {
      for (const [i, k] of keys.entries()) {
        // `summary` and `..` need a letter encoded: the plain forms are the summary route and a dot segment.
        const segment = k === 'summary' ? '%73ummary' : k === '..' ? '%2E%2E' : encodeURIComponent(k);
        const res = await get(`/v1/steps/${stepId}/candidates/${segment}`);
        expect({ k, status: res.status }).toEqual({ k, status: 200 });
        expect(res.body).toMatchObject({ key: k, decision: 'accepted', score: i });
      }
      // The plain path is still the summary.
      expect((await get(`/v1/steps/${stepId}/candidates/summary`)).body).toMatchObject({ total: keys.length });
    });

    it('answers 404 for a key not stored, a step of another project or an unknown step; 400 for bad ids and keys', async () => {
      expectError(await get(`/v1/steps/${stepId}/candidates/B0NOPE`), 404, 'CANDIDATE_NOT_FOUND');
      expectError(await get(`/v1/steps/${stepId}/candidates/B0AAA`, otherKey), 404, 'STEP_NOT_FOUND');
      expectError(await get(`/v1/steps/${randomUUID()}/candidates/B0AAA`), 404, 'STEP_NOT_FOUND');
      expectError(await get(`/v1/steps/not-a-uuid/candidates/B0AAA`), 400, 'INVALID_ID');
      expectError(await get(`/v1/steps/${stepId}/candidates/${'x'.repeat(501)}`), 400, 'INVALID_KEY');
      expectError(await get(`/v1/steps/${stepId}/candidates/a%00b`), 400, 'INVALID_KEY');
    });
  });

  describe('the bounded step tree and listRunSteps', () => {
    let runId: string;
    /** Every step of the run, in (startedAt, id) order. */
    let ordered: { id: string; parentStepId: string | null; startedAt: string }[];
    const base = Date.parse('2026-11-30T10:00:00.000Z');
    const at = (s: number) => new Date(base + s * 1000).toISOString();

    beforeAll(async () => {
      runId = (await post('/v1/runs', { pipeline: 'big-tree', startedAt: at(0) })).id;
      // 6 top-level steps, each with 3 children and one grandchild under the first child: 30
      // steps, each starting after its parent. The last two children of each step share a start
      // time (ordered by id).
      const steps: { id: string; parentStepId: string | null; startedAt: string }[] = [];
      for (let i = 0; i < 6; i++) {
        const top = { id: randomUUID(), parentStepId: null, startedAt: at(100 + i * 10) };
        steps.push(top);
        for (const [j, offset] of [1, 2, 2].entries()) {
          const child = { id: randomUUID(), parentStepId: top.id, startedAt: at(100 + i * 10 + offset) };
          steps.push(child);
          if (j === 0) steps.push({ id: randomUUID(), parentStepId: child.id, startedAt: at(100 + i * 10 + 1.5) });
        }
      }
      for (const s of steps) {
        await post(`/v1/runs/${runId}/steps`, {
          id: s.id,
          parentStepId: s.parentStepId ?? undefined,
          name: `step-${s.startedAt.slice(14, 19)}`,
          startedAt: s.startedAt,
          output: { n: 'o'.repeat(150) },
        });
      }
      ordered = [...steps].sort((a, b) => (a.startedAt === b.startedAt ? (a.id < b.id ? -1 : 1) : a.startedAt < b.startedAt ? -1 : 1));
    }, 60_000);

    const flatten = (nodes: { id: string; children: unknown[] }[]): string[] =>
      nodes.flatMap((n) => [n.id, ...flatten(n.children as { id: string; children: unknown[] }[])]);

    it('holds every step by default, with stepCount and stepsTruncated false', async () => {
      const res = await get(`/v1/runs/${runId}`);
      expect(res.body).toMatchObject({ stepCount: 30, stepsTruncated: false });
      expect(flatten(res.body.steps).sort()).toEqual(ordered.map((s) => s.id).sort());
      expect(res.body.steps).toHaveLength(6);
      expect(res.body.steps[0].children).toHaveLength(3);
      expect(res.body.steps[0].children[0].children).toHaveLength(1);
      expect(res.body.steps[0].truncated).toEqual(['output']);
    });

    it('holds the earliest stepLimit steps by (startedAt, id), nested under their parents', async () => {
      for (const limit of [1, 3, 4, 7, 29]) {
        const res = await get(`/v1/runs/${runId}?stepLimit=${limit}`);
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ stepCount: 30, stepsTruncated: true });
        expect(flatten(res.body.steps).sort()).toEqual(
          ordered
            .slice(0, limit)
            .map((s) => s.id)
            .sort(),
        );
      }
      const all = await get(`/v1/runs/${runId}?stepLimit=30`);
      expect(all.body).toMatchObject({ stepCount: 30, stepsTruncated: false });
    });

    it('brings in ancestors that started after their child, within the limit, and never answers an orphan', async () => {
      const skewed = (await post('/v1/runs', { pipeline: 'skewed-tree', startedAt: at(0) })).id;
      const parent = randomUUID();
      const child = randomUUID();
      const grandchild = randomUUID();
      const later = randomUUID();
      await post(`/v1/runs/${skewed}/steps`, { id: parent, name: 'parent', startedAt: at(50) });
      // Clocks behind: the child starts before its parent, the grandchild before both.
      await post(`/v1/runs/${skewed}/steps`, { id: child, parentStepId: parent, name: 'child', startedAt: at(10) });
      await post(`/v1/runs/${skewed}/steps`, { id: grandchild, parentStepId: child, name: 'grandchild', startedAt: at(5) });
      await post(`/v1/runs/${skewed}/steps`, { id: later, name: 'later', startedAt: at(20) });
      const tree = async (limit: number) => {
        const res = await get(`/v1/runs/${skewed}?stepLimit=${limit}`);
        return { ids: flatten(res.body.steps).sort(), stepsTruncated: res.body.stepsTruncated, stepCount: res.body.stepCount };
      };
      // The earliest step is the grandchild; it fits only with its parent and grandparent.
      expect(await tree(1)).toEqual({ ids: [], stepsTruncated: true, stepCount: 4 });
      expect(await tree(2)).toEqual({ ids: [], stepsTruncated: true, stepCount: 4 });
      expect(await tree(3)).toEqual({ ids: [grandchild, child, parent].sort(), stepsTruncated: true, stepCount: 4 });
      expect(await tree(4)).toEqual({ ids: [grandchild, child, parent, later].sort(), stepsTruncated: false, stepCount: 4 });
      const res = await get(`/v1/runs/${skewed}?stepLimit=3`);
      expect(res.body.steps).toEqual([
        expect.objectContaining({
          id: parent,
          children: [expect.objectContaining({ id: child, children: [expect.objectContaining({ id: grandchild, children: [] })] })],
        }),
      ]);
      // Top-level steps in position order, whatever their start times.
      expect((await get(`/v1/runs/${skewed}`)).body.steps.map((s: { id: string }) => s.id)).toEqual([parent, later]);
    });

    it('refuses a stepLimit outside 1–5000 with 400', async () => {
      for (const v of ['0', '5001', 'ten', '1.5']) expectError(await get(`/v1/runs/${runId}?stepLimit=${v}`), 400);
      expect((await get(`/v1/runs/${runId}?stepLimit=5000`)).status).toBe(200);
    });

    it('listRunSteps pages through every step in (startedAt, id) order with parents, positions, counts and previews', async () => {
      const seen: { id: string; parentStepId: string | null; position: number; truncated: string[]; output: unknown; candidatesIn: number }[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res = await get(`/v1/runs/${runId}/steps?limit=7${cursor ? `&cursor=${cursor}` : ''}`);
        expect(res.status).toBe(200);
        expect(res.body.items.length).toBeLessThanOrEqual(7);
        seen.push(...res.body.items);
        cursor = res.body.nextCursor;
        pages++;
      } while (cursor);
      expect(pages).toBe(5);
      expect(seen.map((s) => s.id)).toEqual(ordered.map((s) => s.id));
      expect(seen.map((s) => s.parentStepId)).toEqual(ordered.map((s) => s.parentStepId));
      for (const s of seen) {
        expect(s).toMatchObject({ truncated: ['output'], candidatesIn: 0, position: expect.any(Number) });
        expect(s.output).toMatch(/^\{"n": "o+…$/);
      }
      // Positions number siblings from 0 in creation order.
      const top = seen.filter((s) => s.parentStepId === null).map((s) => s.position);
      expect(top).toEqual([0, 1, 2, 3, 4, 5]);
      const all = await get(`/v1/runs/${runId}/steps`);
      expect(all.body.items.map((s: { id: string }) => s.id)).toEqual(ordered.map((s) => s.id));
      expect(all.body.nextCursor).toBeNull();
    });

    it('listRunSteps answers a run without steps with an empty page, and 404 for a run of another project or none', async () => {
      const empty = (await post('/v1/runs', { pipeline: 'no-steps' })).id;
      expect((await get(`/v1/runs/${empty}/steps`)).body).toEqual({ items: [], nextCursor: null });
      expectError(await get(`/v1/runs/${runId}/steps`, otherKey), 404, 'RUN_NOT_FOUND');
      expectError(await get(`/v1/runs/${randomUUID()}/steps`), 404, 'RUN_NOT_FOUND');
      expectError(await get(`/v1/runs/${runId}?stepLimit=5`, otherKey), 404, 'RUN_NOT_FOUND');
    });

    it('listRunSteps refuses bad limits and cursors with 400', async () => {
      for (const q of ['limit=0', 'limit=2001', 'cursor=abc', `cursor=${Buffer.from('["yesterday","x"]').toString('base64url')}`, 'order=desc']) {
        expectError(await get(`/v1/runs/${runId}/steps?${q}`), 400);
      }
      expect((await get(`/v1/runs/${runId}/steps?limit=2000`)).status).toBe(200);
    });
  });
});
