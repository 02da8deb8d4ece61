import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from '../../../apps/api/src/app.module.js';
import { buildOpenApiDocument } from '../../../apps/api/src/app.setup.js';

type Json = Record<string, unknown>;

const sortKeys = <T>(obj: Record<string, T>): Record<string, T> =>
  Object.fromEntries(
    Object.keys(obj)
      .sort()
      .map((k) => [k, obj[k]]),
  );

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
      Object.fromEntries(Object.entries(components).map(([k, v]) => [k, v && typeof v === 'object' && !Array.isArray(v) ? sortKeys(v as Json) : v])),
    );
  }
  return out;
}

/**
 * Builds the OpenAPI document of the real AppModule with the same builder the server uses
 * for /docs-json, without listening and without a database: Nest's preview mode resolves the
 * module graph and reads the controllers' metadata but instantiates no provider, so nothing
 * connects anywhere and this takes well under a second. (The document comes from decorators
 * only; libs/sdk/test/sdk.e2e.spec.ts checks that a fully booted server serves the same one.)
 */
export async function emitOpenApiSpec(): Promise<string> {
  const app = await NestFactory.create(AppModule, { preview: true, logger: false, bodyParser: false });
  try {
    const doc = buildOpenApiDocument(app) as unknown as Json;
    return `${JSON.stringify(normalizeOpenApi(doc), null, 2)}\n`;
  } finally {
    await app.close();
  }
}
