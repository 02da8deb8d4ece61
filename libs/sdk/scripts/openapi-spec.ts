import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import { AppModule } from '../../../apps/api/src/app.module.js';
import { buildOpenApiDocument } from '../../../apps/api/src/app.setup.js';
import { APP_CONFIG } from '../../../apps/api/src/config/config.module.js';
import { loadConfig } from '../../../apps/api/src/config/config.js';

type Json = Record<string, unknown>;

const sortKeys = <T>(obj: Record<string, T>): Record<string, T> =>
  Object.fromEntries(Object.keys(obj).sort().map((k) => [k, obj[k]]));

/**
 * Orders the parts of the document whose order carries no meaning (paths, methods, named
 * schemas) so that adding an endpoint or a DTO changes only the lines it adds. Property
 * order inside a schema is kept: it is the order users read in Swagger UI and the types.
 */
export function normalizeOpenApi(doc: Json): Json {
  const out: Json = { ...doc };
  const paths = (doc.paths ?? {}) as Record<string, Record<string, unknown>>;
  out.paths = sortKeys(Object.fromEntries(Object.entries(paths).map(([p, item]) => [p, sortKeys(item)])));
  const components = doc.components as Json | undefined;
  if (components) {
    out.components = sortKeys(
      Object.fromEntries(
        Object.entries(components).map(([k, v]) => [k, v && typeof v === 'object' && !Array.isArray(v) ? sortKeys(v as Json) : v]),
      ),
    );
  }
  return out;
}

/**
 * Boots the real AppModule (never listening) on a throwaway in-memory embedded database,
 * builds the same OpenAPI document the running server serves at /docs-json, and closes.
 */
export async function emitOpenApiSpec(): Promise<string> {
  const config = loadConfig({ XRAY_DATA_DIR: 'memory://', XRAY_LOG_LEVEL: 'silent', XRAY_MIGRATE: 'false' });
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
    .overrideProvider(APP_CONFIG)
    .useValue(config)
    .compile();
  moduleRef.useLogger(false);
  const app = moduleRef.createNestApplication({ bodyParser: false, logger: false });
  try {
    const doc = buildOpenApiDocument(app) as unknown as Json;
    return `${JSON.stringify(normalizeOpenApi(doc), null, 2)}\n`;
  } finally {
    await app.close();
  }
}
