/**
 * Typed application errors. Services throw these with a code; the global filter maps them to
 * HTTP in one place, so every error has the same JSON shape.
 */
export interface ErrorDetail {
  field: string;
  message: string;
}

export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: ErrorDetail[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const notFound = (what: string, id: string) => new AppError(404, `${what.toUpperCase().replace(/\s+/g, '_')}_NOT_FOUND`, `${what} ${id} not found`);

export const badRequest = (code: string, message: string, details?: ErrorDetail[]) => new AppError(400, code, message, details);
