import protobuf from 'protobufjs';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, parse } from 'node:path';
import { fileURLToPath } from 'node:url';

const PROTO = 'otlp-trace.proto';

/**
 * otlp-trace.proto: beside this module (from source, and in dist where `npm run build` copies
 * it), else in the source tree above a compiled copy (a build by `tsc` alone).
 */
function findProto(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  if (existsSync(join(here, PROTO))) return join(here, PROTO);
  for (let dir = here; dir !== parse(dir).root; dir = dirname(dir)) {
    const source = join(dir, 'apps', 'api', 'src', 'otlp', PROTO);
    if (existsSync(source)) return source;
  }
  throw new Error(`${PROTO} not found beside ${here} or in a source tree above it`);
}

/** The OTLP messages of otlp-trace.proto, parsed once with protobufjs. */
const root = protobuf.parse(readFileSync(findProto(), 'utf8')).root;

export const OTLP = {
  ExportTraceServiceRequest: root.lookupType('xray.otlp.ExportTraceServiceRequest'),
  ExportTraceServiceResponse: root.lookupType('xray.otlp.ExportTraceServiceResponse'),
  RpcStatus: root.lookupType('xray.otlp.RpcStatus'),
};
