import { ConsoleLogger } from '@nestjs/common';
import { NEST_DETAIL_CONTEXTS, trailingContext } from './json-logger.js';

/**
 * Nest's readable console logger (XRAY_LOG_FORMAT=pretty), with Nest's start-up detail (module
 * initialisation, route mapping) moved to the debug level, as the JSON logger does.
 */
export class PrettyLogger extends ConsoleLogger {
  override log(message: unknown, ...rest: unknown[]): void {
    const context = trailingContext(rest) ?? this.context;
    if (context !== undefined && NEST_DETAIL_CONTEXTS.has(context)) super.debug(message, ...(rest as [string?]));
    else super.log(message, ...(rest as [string?]));
  }
}
