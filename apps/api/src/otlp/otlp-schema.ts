import protobuf from 'protobufjs';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, parse } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A schema file of this folder: beside this module (from source, and in dist where `npm run
 * build` copies it), else in the source tree above a compiled copy (a build by `tsc` alone).
 */
function findProto(file: string): string {
  const here = dirname(fileURLToPath(import.meta.url));
  if (existsSync(join(here, file))) return join(here, file);
  for (let dir = here; dir !== parse(dir).root; dir = dirname(dir)) {
    const source = join(dir, 'apps', 'api', 'src', 'otlp', file);
    if (existsSync(source)) return source;
  }
  throw new Error(`${file} not found beside ${here} or in a source tree above it`);
}

/**
 * The OTLP messages of otlp-trace.proto and the gRPC trace service of otlp-trace-service.proto,
 * parsed once with protobufjs into one root.
 */
const root = protobuf.parse(readFileSync(findProto('otlp-trace.proto'), 'utf8')).root;
protobuf.parse(readFileSync(findProto('otlp-trace-service.proto'), 'utf8'), root);
root.resolveAll();

export const OTLP = {
  ExportTraceServiceRequest: root.lookupType('xray.otlp.ExportTraceServiceRequest'),
  ExportTraceServiceResponse: root.lookupType('xray.otlp.ExportTraceServiceResponse'),
  RpcStatus: root.lookupType('xray.otlp.RpcStatus'),
  RetryInfo: root.lookupType('xray.otlp.RetryInfo'),
  TraceService: root.lookupService('opentelemetry.proto.collector.trace.v1.TraceService'),
};
