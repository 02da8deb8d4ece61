import { ParseUUIDPipe } from '@nestjs/common';
import { AppError } from './app-error.js';

/** Path ids must be UUIDs: anything else is a 400 before any database work. */
export const uuidParam = new ParseUUIDPipe({
  exceptionFactory: () => new AppError(400, 'INVALID_ID', 'The id in the path must be a UUID'),
});
