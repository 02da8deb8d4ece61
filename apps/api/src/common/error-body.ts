import type { ErrorDetail } from './app-error.js';

/** The one JSON error shape every endpoint answers with. */
export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  details?: ErrorDetail[];
}

export function errorBody(statusCode: number, error: string, message: string, details?: ErrorDetail[]): ErrorBody {
  return details && details.length > 0 ? { statusCode, error, message, details } : { statusCode, error, message };
}
