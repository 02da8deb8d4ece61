/**
 * Dependency rules (npm run deps, in CI): dependencies point one way, features -> domain,
 * common, database, config; never back, never in a cycle.
 */
const features = '^apps/api/src/(analytics|auth|candidates|export|health|ingest|projects|runs|steps|maintenance|dashboard|metrics|lifecycle)/';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle makes import order the contract. (Generated client code is not ours to restructure.)',
      from: { pathNot: '^libs/sdk/src/generated/' },
      to: { circular: true },
    },
    {
      name: 'domain-is-a-leaf',
      severity: 'error',
      comment: 'domain/ holds the rules (statuses, step types, decisions, lifecycle): no Nest, no SQL, no other module.',
      from: { path: '^apps/api/src/domain/' },
      to: { pathNot: ['^apps/api/src/domain/'] },
    },
    {
      name: 'shared-layers-do-not-import-features',
      severity: 'error',
      comment: 'common/, database/ and config/ serve every feature, so they cannot depend on one.',
      // database/data-source.ts lists every module's entities and migrations: like app.module.ts,
      // it is where the modules are put together, the one place that must know them all.
      from: { path: '^apps/api/src/(common|database|config)/', pathNot: '^apps/api/src/database/data-source\\.ts$' },
      to: { path: features },
    },
    {
      name: 'runs-steps-candidates-one-way',
      severity: 'error',
      comment: 'Candidates build on steps, steps on runs: runs/ never imports steps/ or candidates/, steps/ never imports candidates/.',
      from: { path: '^apps/api/src/runs/' },
      to: { path: '^apps/api/src/(steps|candidates)/' },
    },
    {
      name: 'steps-do-not-import-candidates',
      severity: 'error',
      comment: "Candidates build on steps (their counters are the steps module's SQL), never the other way.",
      from: { path: '^apps/api/src/steps/' },
      to: { path: '^apps/api/src/candidates/' },
    },
    {
      name: 'sdk-stands-alone',
      severity: 'error',
      comment: 'The SDK is published on its own: it talks to the API over HTTP only.',
      from: { path: '^libs/sdk/src/' },
      to: { path: '^apps/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|node_modules)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
