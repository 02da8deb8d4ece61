/**
 * The one story every Swagger example tells: the competitor-selection pipeline looking for
 * products like an aluminium laptop stand, whose price filter rejects a listing at $89. Request
 * body examples are what Swagger UI pre-fills on "Try it out", so each one must succeed as it
 * stands: no ids that would have to exist first, no dates that expire.
 */
export const EXAMPLE = {
  projectId: '0193a2c4-1f00-7a3e-9c51-3f2b1d7e8a10',
  runId: '0193a2c4-5b10-7c2d-8e4f-6a7b8c9d0e11',
  otherRunId: '0193a2c5-02a0-7b1c-9d2e-3f4a5b6c7d12',
  stepId: '0193a2c4-5b2e-7f01-a3b4-c5d6e7f8a913',
  parentStepId: '0193a2c4-5b20-7e9f-b1c2-d3e4f5a6b714',
  eventId: '0193a2c4-5b11-7d3e-9f40-a1b2c3d4e515',
  apiKeyId: '0193a2c3-9e00-7a11-8b22-c33d44e55f16',
  pipeline: 'competitor-selection',
  pipelineVersion: '2026.11.3',
  runInput: { title: 'Adjustable aluminium laptop stand', asin: 'B0LAPTOP1', maxPrice: 50 },
  runOutput: { selected: 'B0AAA', title: 'Aluminium laptop riser, 6 heights' },
  metadata: { customer: 'acme', region: 'eu' },
  tags: ['nightly'],
  startedAt: '2026-11-30T09:15:00.000Z',
  endedAt: '2026-11-30T09:15:04.250Z',
  durationMs: 4250,
  createdAt: '2026-11-30T09:15:00.120Z',
  updatedAt: '2026-11-30T09:15:04.300Z',
  stepName: 'filter-by-price',
  stepType: 'filter',
  stepInput: { maxPrice: 50, candidates: 5000 },
  stepOutput: { kept: 412 },
  stepMetadata: { rule: 'price <= maxPrice' },
  reasoning: 'Kept listings priced at or under $50; 4,588 were above it.',
  error: {
    type: 'TimeoutError',
    message: 'search API did not answer within 30 s',
    stack: 'TimeoutError: search API did not answer within 30 s\n    at searchListings (pipeline/search.ts:42:11)',
  },
  candidateKey: 'B0XYZ',
  reason: 'price above $50',
  evaluations: [{ check: 'price', passed: false, detail: '$89 > $50' }],
  candidateData: { title: 'Laptop stand pro', price: 89, rating: 4.6 },
} as const;

/**
 * Request bodies as Swagger UI pre-fills them. Creates carry no ids (each "Execute" makes a new
 * object, 201) and no parent that would have to exist; keys carry no expiry that could pass.
 */
export const REQUEST_EXAMPLE = {
  createRun: {
    pipeline: EXAMPLE.pipeline,
    pipelineVersion: EXAMPLE.pipelineVersion,
    input: EXAMPLE.runInput,
    metadata: EXAMPLE.metadata,
    tags: EXAMPLE.tags,
  },
  completeRun: { status: 'success', output: EXAMPLE.runOutput },
  failRun: { status: 'error', error: EXAMPLE.error },
  createStep: { name: EXAMPLE.stepName, type: EXAMPLE.stepType, input: EXAMPLE.stepInput },
  completeStep: { status: 'success', output: EXAMPLE.stepOutput, reasoning: EXAMPLE.reasoning, candidatesIn: 5000, candidatesOut: 412 },
  createApiKey: { name: 'checkout-pipeline (prod)', scopes: ['ingest'] },
} as const;
