import type { Browser, Page } from 'playwright-core';
import request from 'supertest';
import { EXAMPLE } from '../../src/common/examples.js';
import { createTestApp, type TestApp } from '../harness.js';
import { loadOperations, type Operation } from '../security/support.js';
import { chromiumAvailable, launchChromium, screenshotPath, watchedPage } from './chromium.js';

/**
 * What a newcomer does first: open /docs, Authorize, pick an operation, "Try it out",
 * "Execute". For every operation of the app's own OpenAPI document, in real Chromium: authorize
 * with a key that has exactly the operation's scope, fill only the path parameters (ids of
 * objects this test created), leave every other field as Swagger UI pre-fills it, execute, and
 * expect one of the operation's documented success statuses on the page.
 */

/** Operations whose success cannot come from pre-filled values alone, with the reason. None today. */
const NEEDS_USER_INPUT: Record<string, string> = {};

interface Fixtures {
  rootKey: string;
  keys: Record<'ingest' | 'read' | 'delete' | 'admin' | 'feedback', string>;
  projectId: string;
  runId: string;
  /** A run of its own for deleteRun, which the other pages' operations do not use. */
  deletableRunId: string;
  deletionId: string;
  otherRunId: string;
  stepId: string;
  candidateKey: string;
  pipeline: string;
  revocableKeyId: string;
  scoreId: string;
  /** A score of its own for deleteScore (its page works beside updateScore's). */
  deletableScoreId: string;
  scoreConfigName: string;
  modelPriceId: string;
}

/** The value a user would type into a path parameter, by route and parameter name. */
function pathValue(op: Operation, name: string, f: Fixtures): string {
  const collection = op.path.split('/')[2];
  if (op.operationId === 'deleteRun') return f.deletableRunId;
  if (name === 'id' && collection === 'deletions') return f.deletionId;
  if (name === 'id' && collection === 'projects') return f.projectId;
  if (name === 'runId' || (name === 'id' && collection === 'runs')) return f.runId;
  if (name === 'otherId') return f.otherRunId;
  if (name === 'stepId' || (name === 'id' && collection === 'steps')) return f.stepId;
  if (name === 'id' && collection === 'api-keys') return f.revocableKeyId;
  if (op.operationId === 'deleteScore') return f.deletableScoreId;
  if (name === 'id' && collection === 'scores') return f.scoreId;
  if (name === 'name' && collection === 'score-configs') return f.scoreConfigName;
  if (name === 'id' && collection === 'model-prices') return f.modelPriceId;
  if (name === 'pipeline') return f.pipeline;
  if (name === 'key') return f.candidateKey;
  throw new Error(`${op.operationId}: no fixture for path parameter "${name}"; add one to pathValue`);
}

/** The key a user would authorize with: the operation's scope exactly, the root key for project routes. */
function keyFor(op: Operation, f: Fixtures): string | undefined {
  switch (op.access) {
    case 'public':
      return undefined;
    case 'root':
    case 'root-or-read':
      return f.rootKey;
    case 'any':
      return f.keys.read; // any valid key: the least a newcomer could hold
    default:
      return f.keys[op.access];
  }
}

/** Operations that destroy what later ones use run last. */
const rank = (op: Operation): number => (op.method === 'delete' ? 2 : op.method === 'get' ? 0 : 1);

async function authorize(page: Page, key: string): Promise<void> {
  await page.locator('button.authorize').first().click();
  const modal = page.locator('.modal-ux');
  const bearer = modal.locator('.auth-container').filter({ hasText: 'bearer' }).first();
  await bearer.locator('input').fill(key);
  await bearer.locator('button.authorize').click();
  await modal.locator('button.btn-done').first().click();
}

async function execute(page: Page, op: Operation, f: Fixtures): Promise<string> {
  const block = page.locator(`[id^="operations-"][id$="-${op.operationId}"]`).first();
  await block.scrollIntoViewIfNeeded();
  await block.locator('.opblock-summary').first().click();
  await block.locator('button.try-out__btn').click();
  for (const p of op.pathParams) {
    await block.locator(`tr[data-param-name="${p.name}"] input`).fill(pathValue(op, p.name, f));
  }
  await block.locator('button.execute').click();
  // Swagger UI refuses to send a request with an empty required field: it marks the field instead.
  const status = block.locator('.live-responses-table .response .response-col_status').first();
  const refused = block.locator('.parameters .invalid, .body-param .invalid, .validation-errors');
  await status.or(refused).first().waitFor({ timeout: 15_000 });
  if (await refused.count()) {
    const names = await block.locator('tr[data-param-name]:has(.invalid)').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-param-name')));
    return `not sent: Swagger UI asks the user to fill ${names.join(', ') || 'the request body'}`;
  }
  return (await status.innerText()).trim();
}

describe('Swagger UI: Try it out → Execute', () => {
  let t: TestApp;
  let browser: Browser;
  let baseUrl: string;
  let operations: Operation[];
  let f: Fixtures;

  beforeAll(async () => {
    if (!chromiumAvailable()) throw new Error('Chromium is missing at /usr/bin/chromium (apt-get install -y chromium)');
    t = await createTestApp();
    await t.app.listen(0, '127.0.0.1');
    const address = t.app.getHttpServer().address() as { port: number };
    baseUrl = `http://127.0.0.1:${address.port}`;
    ({ operations } = await loadOperations(t.http));

    const project = await t.newProject('swagger');
    const admin = (m: 'get' | 'post' | 'patch' | 'delete', path: string) => request(t.http)[m](path).set('Authorization', `Bearer ${project.key}`);
    const keyWith = async (scope: 'ingest' | 'read' | 'delete' | 'admin' | 'feedback') =>
      (
        await admin('post', '/v1/api-keys')
          .send({ name: `swagger-${scope}`, scopes: [scope] })
          .expect(201)
      ).body.key as string;
    const run = async () =>
      (
        await admin('post', '/v1/runs')
          .send({ pipeline: 'competitor-selection', tags: ['nightly'] })
          .expect(201)
      ).body.id as string;
    const runId = await run();
    const otherRunId = await run();
    const stepId = (await admin('post', `/v1/runs/${runId}/steps`).send({ name: 'filter-by-price', type: 'filter' }).expect(201)).body.id as string;
    await admin('post', `/v1/steps/${stepId}/candidates`)
      .send({
        candidates: [
          { key: 'B0AAA', decision: 'accepted' },
          { key: 'B0XYZ', decision: 'rejected', reason: 'price above $50' },
        ],
      })
      .expect(201);
    for (const id of [runId, otherRunId]) await admin('patch', `/v1/runs/${id}`).send({ status: 'success' }).expect(200);
    // The run the score examples name (Swagger UI pre-fills createScore with it).
    await admin('post', '/v1/runs').send({ id: EXAMPLE.runId, pipeline: 'competitor-selection' }).expect(201);
    const score = async () => (await admin('post', '/v1/scores').send({ runId, name: 'correct', value: true }).expect(201)).body.id as string;
    const scoreId = await score();
    const deletableScoreId = await score();
    await admin('post', '/v1/score-configs').send({ name: 'quality', dataType: 'numeric', min: 0, max: 1 }).expect(201);
    f = {
      rootKey: t.rootKey,
      keys: {
        ingest: await keyWith('ingest'),
        read: await keyWith('read'),
        delete: await keyWith('delete'),
        admin: project.key,
        feedback: await keyWith('feedback'),
      },
      projectId: project.id,
      runId,
      deletableRunId: await run(),
      deletionId: (await admin('delete', '/v1/candidates?key=never-stored').expect(200)).body.id,
      otherRunId,
      stepId,
      candidateKey: 'B0AAA',
      pipeline: 'competitor-selection',
      revocableKeyId: (
        await admin('post', '/v1/api-keys')
          .send({ name: 'to-revoke', scopes: ['read'] })
          .expect(201)
      ).body.id,
      scoreId,
      deletableScoreId,
      scoreConfigName: 'quality',
      modelPriceId: (await admin('post', '/v1/model-prices').send({ modelPattern: 'fixture-model-*', inputPerMillion: 1, outputPerMillion: 2 }).expect(201))
        .body.id,
    };
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('every operation answers its documented success status with only path parameters filled in', async () => {
    expect(operations.length).toBeGreaterThan(20);
    const ordered = [...operations].sort((a, b) => rank(a) - rank(b));
    const results: string[] = [];
    const failures: string[] = [];
    // One page per key, authorized once, as a user would work through the operations; the
    // pages work side by side (each group's destructive operations touch only its own fixtures).
    const groups = new Map<string | undefined, Operation[]>();
    for (const op of ordered) groups.set(keyFor(op, f), [...(groups.get(keyFor(op, f)) ?? []), op]);
    await Promise.all(
      [...groups].map(async ([key, ops]) => {
        const { page, problems, context } = await watchedPage(browser);
        // Every group's page loads Swagger UI's bundle at once: a busy machine can take a while.
        await page.goto(`${baseUrl}/docs`, { waitUntil: 'domcontentloaded', timeout: 120_000 });
        await page.locator('.opblock').first().waitFor();
        if (key) await authorize(page, key);
        for (const op of ops) {
          const status = await execute(page, op, f);
          const documented = Object.keys(op.responses).filter((code) => /^2\d\d$/.test(code));
          // A picture of what the user saw, when it went wrong.
          if (!documented.includes(status)) await page.screenshot({ path: screenshotPath('swagger-ui', op.operationId), fullPage: false });
          // Collapse it again, as a user moving on would, so the page stays small.
          await page.locator(`[id$="-${op.operationId}"] .opblock-summary`).first().click();
          results.push(`${op.operationId} ${status}`);
          if (!documented.includes(status)) {
            const body = await page
              .locator(`[id$="-${op.operationId}"] .live-responses-table .response-col_description pre`)
              .first()
              .innerText()
              .catch(() => '');
            failures.push(`${op.operationId}: ${status}, documented ${documented.join('/')}: ${body.slice(0, 300)}`);
          }
        }
        failures.push(...problems.map((p) => `page problem while executing ${ops.map((o) => o.operationId).join(', ')}: ${p}`));
        await context.close();
      }),
    );
    expect(failures).toEqual([]);
    expect(results).toHaveLength(operations.length);
    expect(Object.keys(NEEDS_USER_INPUT)).toEqual([]);
  }, 300_000);
});
