import request from 'supertest';
import { createTestApp, expectError, type TestApp } from './harness.js';

describe('HTTP contract: errors, limits, health and docs', () => {
  let t: TestApp;
  let key: string;

  beforeAll(async () => {
    t = await createTestApp({ XRAY_MAX_BODY: '64kb' });
    key = (await t.newProject()).key;
  });
  afterAll(async () => t?.close());

  it('answers malformed JSON with 400 in the error shape', async () => {
    const res = await request(t.http).post('/v1/runs').set('Authorization', `Bearer ${key}`).set('Content-Type', 'application/json').send('{"pipeline":');
    expectError(res, 400, 'MALFORMED_JSON');
  });

  it('answers bodies over XRAY_MAX_BODY with 413 naming the limit', async () => {
    const res = await request(t.http)
      .post('/v1/runs')
      .set('Authorization', `Bearer ${key}`)
      .send({ pipeline: 'big', input: 'x'.repeat(70 * 1024) });
    const body = expectError(res, 413, 'PAYLOAD_TOO_LARGE');
    expect(body.message).toContain('XRAY_MAX_BODY');
  });

  it('answers unknown routes with 404 in the error shape', async () => {
    expectError(await request(t.http).get('/v1/nope').set('Authorization', `Bearer ${key}`), 404);
    expectError(await request(t.http).get('/nope'), 404);
  });

  it('serves health outside /v1 without a key', async () => {
    const res = await request(t.http).get('/health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', database: 'up' });
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('serves Swagger UI and an OpenAPI document covering every operation', async () => {
    const ui = await request(t.http).get('/docs/');
    expect(ui.status).toBe(200);
    expect(ui.text).toContain('swagger-ui');
    const doc = (await request(t.http).get('/docs-json')).body;
    const operations: Record<string, { operationId: string; security?: unknown[]; summary?: string; parameters?: { description?: string; name: string }[] }> =
      {};
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, never>>)) {
      for (const [method, op] of Object.entries(item)) operations[`${method.toUpperCase()} ${path}`] = op;
    }
    const ids = Object.fromEntries(Object.entries(operations).map(([k, op]) => [k, op.operationId]));
    expect(ids).toEqual({
      'POST /v1/projects': 'createProject',
      'GET /v1/projects': 'listProjects',
      'POST /v1/runs': 'createRun',
      'GET /v1/runs': 'listRuns',
      'PATCH /v1/runs/{id}': 'updateRun',
      'GET /v1/runs/{id}': 'getRun',
      'POST /v1/runs/{runId}/steps': 'createStep',
      'GET /v1/runs/{runId}/steps': 'listRunSteps',
      'GET /v1/pipelines': 'listPipelines',
      'GET /v1/auth/key': 'getKeyInfo',
      'PATCH /v1/steps/{id}': 'updateStep',
      'GET /v1/steps/{id}': 'getStep',
      'POST /v1/steps/{stepId}/candidates': 'createCandidates',
      'GET /v1/steps/{stepId}/candidates': 'listCandidates',
      'GET /v1/steps/{stepId}/candidates/summary': 'getCandidateSummary',
      'GET /v1/steps/{stepId}/candidates/{key}': 'getCandidate',
      'POST /v1/ingest': 'ingestEvents',
      'GET /v1/export': 'exportRuns',
      'POST /v1/import': 'importRuns',
      'GET /v1/steps': 'searchSteps',
      'GET /v1/candidates': 'searchCandidates',
      'GET /v1/runs/{id}/compare/{otherId}': 'compareRuns',
      'GET /v1/analytics/pipelines/{pipeline}': 'getPipelineAnalytics',
      'GET /v1/analytics/llm': 'getLlmAnalytics',
      'GET /v1/model-prices': 'listModelPrices',
      'POST /v1/model-prices': 'createModelPrice',
      'PUT /v1/model-prices/{id}': 'replaceModelPrice',
      'DELETE /v1/model-prices/{id}': 'deleteModelPrice',
      'POST /v1/api-keys': 'createApiKey',
      'GET /v1/api-keys': 'listApiKeys',
      'DELETE /v1/api-keys/{id}': 'revokeApiKey',
      'PATCH /v1/projects/{id}': 'updateProject',
      'PATCH /v1/project': 'updateOwnProject',
      'DELETE /v1/runs/{id}': 'deleteRun',
      'POST /v1/deletions': 'deleteRuns',
      'DELETE /v1/candidates': 'eraseCandidates',
      'GET /v1/deletions': 'listDeletions',
      'GET /v1/deletions/{id}': 'getDeletion',
      'POST /v1/scores': 'createScore',
      'POST /v1/scores/batch': 'createScores',
      'GET /v1/scores': 'listScores',
      'PATCH /v1/scores/{id}': 'updateScore',
      'DELETE /v1/scores/{id}': 'deleteScore',
      'GET /v1/score-configs': 'listScoreConfigs',
      'POST /v1/score-configs': 'createScoreConfig',
      'PUT /v1/score-configs/{name}': 'replaceScoreConfig',
      'DELETE /v1/score-configs/{name}': 'deleteScoreConfig',
      'GET /v1/scores/summary': 'getScoreSummary',
      'GET /v1/analytics/score-rejections': 'getScoreRejections',
      'GET /health': 'getHealth',
      'GET /health/live': 'getLiveness',
      'GET /health/ready': 'getReadiness',
    });
    for (const [name, op] of Object.entries(operations)) {
      expect({ name, summary: Boolean(op.summary) }).toEqual({ name, summary: true });
      if (!name.includes('/health')) expect({ name, security: op.security }).toEqual({ name, security: expect.arrayContaining([{ bearer: [] }]) });
    }
    expect(doc.components.securitySchemes).toMatchObject({
      bearer: { type: 'http', scheme: 'bearer' },
      'api-key': { type: 'apiKey', in: 'header', name: 'X-API-Key' },
    });
    // Every parameter and every DTO field is described for Swagger UI readers.
    const undocumented: string[] = [];
    for (const [name, op] of Object.entries(operations)) {
      for (const param of op.parameters ?? []) if (!param.description) undocumented.push(`${name} ${param.name}`);
    }
    for (const [schema, def] of Object.entries(doc.components.schemas as Record<string, { properties?: Record<string, { description?: string }> }>)) {
      for (const [prop, value] of Object.entries(def.properties ?? {})) if (!value.description) undocumented.push(`${schema}.${prop}`);
    }
    expect(undocumented).toEqual([]);
    expect(doc.components.schemas.CreateRunDto.properties.pipeline.description).toBeTruthy();
    expect(doc.components.schemas.CandidateInputDto.properties.decision.enum).toEqual(['accepted', 'rejected', 'selected']);
  });
});
