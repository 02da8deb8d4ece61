import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The Swagger UI "Example Value" panes and the bodies "Try it out" pre-fills come from the
 * examples in the OpenAPI document. Checked on the committed document, which
 * libs/sdk/test/generated.spec.ts proves equal to what the code emits.
 */
type Schema = { $ref?: string; allOf?: Schema[]; items?: Schema; type?: string; example?: unknown; properties?: Record<string, Schema> };
type Parameter = { name: string; in: string; required?: boolean; schema: Schema; example?: unknown; style?: string };
type Operation = {
  operationId: string;
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: Schema; examples?: Record<string, { value: unknown }> }> };
};

const doc = JSON.parse(readFileSync(join(process.cwd(), 'libs/sdk/openapi.json'), 'utf8')) as {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
};
const operations = Object.values(doc.paths).flatMap((item) => Object.values(item));
const refersToModel = (s: Schema): boolean =>
  Boolean(s.$ref || (s.allOf?.length === 1 && s.allOf[0].$ref) || (s.type === 'array' && s.items && refersToModel(s.items)));

describe('OpenAPI examples', () => {
  it('every field of every schema carries an example (fields that are another schema carry theirs)', () => {
    const missing: string[] = [];
    for (const [name, schema] of Object.entries(doc.components.schemas)) {
      for (const [field, property] of Object.entries(schema.properties ?? {})) {
        if (!refersToModel(property) && !('example' in property)) missing.push(`${name}.${field}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('every request body shows an example a user can send as it is', () => {
    const without = operations
      .filter((op) => op.requestBody)
      .filter((op) => {
        const [media] = Object.values(op.requestBody!.content); // JSON, or the NDJSON of an import
        if (media.examples && Object.keys(media.examples).length > 0) return false;
        const ref = media.schema.$ref?.split('/').pop();
        const properties = ref ? (doc.components.schemas[ref].properties ?? {}) : {};
        return Object.values(properties).some((p) => !refersToModel(p) && !('example' in p));
      })
      .map((op) => op.operationId);
    expect(without).toEqual([]);
  });

  it('required and map-shaped parameters have an example, so Swagger UI never invents `additionalProp` keys', () => {
    const bad = operations.flatMap((op) =>
      (op.parameters ?? [])
        .filter((p) => p.in !== 'path')
        .filter((p) => (p.required || p.schema.type === 'object') && p.example === undefined && p.schema.example === undefined)
        .map((p) => `${op.operationId}.${p.name}`),
    );
    expect(bad).toEqual([]);
    const objects = operations.flatMap((op) => (op.parameters ?? []).filter((p) => p.schema.type === 'object'));
    expect(objects.length).toBeGreaterThan(0);
    for (const p of objects) expect(p.style).toBe('deepObject');
  });

  it('no example anywhere holds a placeholder key', () => {
    expect(JSON.stringify(doc)).not.toMatch(/additionalProp\d/);
  });
});
