/**
 * Every error mailhook returns has a stable code, an HTTP status and a message. The codes are part of
 * the public contract (docs/errors.md lists them); messages may improve, codes never change meaning.
 */
export const ERROR_CODES = {
  MH_ERR_UNAUTHORIZED: { status: 401, message: 'Missing or invalid API key' },
  MH_ERR_SIGNATURE_INVALID: { status: 401, message: 'The request could not be verified' },
  MH_ERR_NOT_FOUND: { status: 404, message: 'Not found' },
  MH_ERR_SOURCE_NOT_FOUND: { status: 404, message: 'No such source' },
  MH_ERR_EVENT_NOT_FOUND: { status: 404, message: 'No such event' },
  MH_ERR_INBOX_ROW_NOT_FOUND: { status: 404, message: 'No such inbox row' },
  MH_ERR_ENDPOINT_NOT_FOUND: { status: 404, message: 'No such endpoint' },
  MH_ERR_DELIVERY_NOT_FOUND: { status: 404, message: 'No such delivery' },
  MH_ERR_REPLAY_NOT_FOUND: { status: 404, message: 'No such replay' },
  MH_ERR_RECONCILIATION_NOT_FOUND: { status: 404, message: 'No such reconciliation' },
  MH_ERR_RECONCILE_UNSUPPORTED: {
    status: 400,
    message: 'This provider has no event API mailhook can read; its events can only arrive by webhook',
  },
  MH_ERR_RECONCILE_NOT_CONFIGURED: {
    status: 400,
    message: 'The source has no API key: set config.api_key (PATCH /v1/sources/:id) to read its events back',
  },
  MH_ERR_RECONCILE_RUNNING: { status: 409, message: 'A reconciliation of this source is already running' },
  MH_ERR_DELIVERY_IN_FLIGHT: {
    status: 409,
    message: 'The delivery is being attempted right now; retry it once that attempt has finished',
  },
  MH_ERR_ENDPOINT_URL_REFUSED: { status: 400, message: 'The endpoint URL is not allowed' },
  MH_ERR_PAYLOAD_TOO_LARGE: { status: 413, message: 'Request body is too large' },
  MH_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Unsupported content type' },
  MH_ERR_VALIDATION: { status: 400, message: 'The request is invalid' },
  MH_ERR_INVALID_CURSOR: { status: 400, message: 'The cursor is invalid' },
  MH_ERR_UNKNOWN_PROVIDER: { status: 400, message: 'Unknown provider' },
  MH_ERR_INVALID_SOURCE_CONFIG: { status: 400, message: 'The source configuration is invalid' },
  MH_ERR_MALFORMED_PAYLOAD: { status: 422, message: 'The payload could not be parsed' },
  MH_ERR_STORE_UNAVAILABLE: { status: 503, message: 'Storage is unavailable, retry later' },
  MH_ERR_NOT_READY: { status: 503, message: 'Not ready' },
  MH_ERR_TOO_MANY_CONNECTIONS: {
    status: 503,
    message: 'The server has too many open connections; retry shortly',
  },
  MH_ERR_VERIFICATION_UNAVAILABLE: {
    status: 503,
    message: 'The request cannot be verified right now, retry later',
  },
  MH_ERR_INTERNAL: { status: 500, message: 'Internal error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class MailhookError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERROR_CODES[code].message, options);
    this.name = 'MailhookError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
  }

  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** Thrown by adapters' `parse`: the row is kept and quarantined with this message. */
export class MalformedPayloadError extends MailhookError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MH_ERR_MALFORMED_PAYLOAD', message, options);
    this.name = 'MalformedPayloadError';
  }
}

/** Coerces anything thrown into a MailhookError, keeping the original as `cause`. */
export function toMailhookError(err: unknown): MailhookError {
  if (err instanceof MailhookError) return err;
  return new MailhookError('MH_ERR_INTERNAL', undefined, { cause: err });
}
