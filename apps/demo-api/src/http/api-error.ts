import { HttpException } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';

/** Thrown by handlers; the errors filter turns it into `{"error", "details"}`. */
export class ApiError extends HttpException {
  constructor(
    status: number,
    readonly details: string,
  ) {
    super({ error: STATUS_CODES[status] ?? 'Error', details }, status);
  }
}

export const badRequest = (details: string) => new ApiError(400, details);
export const notFound = (details: string) => new ApiError(404, details);
