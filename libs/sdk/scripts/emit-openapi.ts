/**
 * Writes the OpenAPI document of the app to the file named on the command line
 * (`npm run sdk:generate` passes libs/sdk/openapi.json).
 */
import { writeFile } from 'node:fs/promises';
import { emitOpenApiSpec } from './openapi-spec.js';

const target = process.argv[2];
if (!target) {
  console.error('usage: node emit-openapi.js <file.json>');
  process.exit(2);
}

emitOpenApiSpec().then(
  async (json) => {
    await writeFile(target, json);
    console.log(`wrote ${target}`);
    process.exit(0);
  },
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
