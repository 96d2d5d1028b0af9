// API errors: DeepSeek's status codes with an OpenAI-style body {"error": {message, type, param, code}}.
// Anything that is not an ApiError (or a 4xx from the framework) becomes a 500 without internals.

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

const TYPES: Record<number, [type: string, code: string]> = {
  400: ['invalid_request_error', 'invalid_request_error'],
  401: ['authentication_error', 'invalid_api_key'],
  404: ['invalid_request_error', 'not_found'],
  413: ['invalid_request_error', 'request_too_large'],
  415: ['invalid_request_error', 'unsupported_media_type'],
  422: ['invalid_request_error', 'invalid_parameter'],
  429: ['rate_limit_error', 'rate_limit_exceeded'],
  500: ['server_error', 'server_error'],
  503: ['server_error', 'server_overloaded'],
};

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(readonly status: number, message: string, readonly param: string | null = null, readonly code: string | null = null) {
    super(message);
  }

  get body(): ErrorBody {
    const [type, code] = TYPES[this.status] ?? (this.status < 500 ? TYPES[400]! : TYPES[500]!);
    return { error: { message: this.message, type, param: this.param, code: this.code ?? code } };
  }
}

/** 400 Invalid Format: the body is not a request at all (bad JSON, not an object, impossible conversation). */
export const badRequest = (message: string, param: string | null = null, code?: string) => new ApiError(400, message, param, code);

/** 422 Invalid Parameters: a named field has a value the API does not accept. */
export const invalidParam = (param: string, message: string) => new ApiError(422, message, param);

/** Converts anything thrown while handling a request into an ApiError that is safe to show. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  const err = e as { statusCode?: unknown; code?: unknown; message?: unknown };
  const status = typeof err?.statusCode === 'number' ? err.statusCode : 500;
  if (status >= 400 && status < 500) {
    // framework errors (bad JSON, body too large, wrong content type): their messages describe the input only
    const message = typeof err.message === 'string' ? err.message.replace(/^FST_\w+: /, '') : 'bad request';
    return new ApiError(status, message, null, status === 400 ? 'invalid_request_error' : null);
  }
  if (status === 503) return new ApiError(503, 'The server is overloaded; retry shortly.');
  return new ApiError(500, 'The server had an error while processing your request; retry after a brief wait.');
}
