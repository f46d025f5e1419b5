// Errors raised while reading or writing the wire format. Each says what was wrong and what happens next.

/** The content type is not in accept_content (kombu's ContentDisallowed): reject without requeue, store nothing. */
export class ContentDisallowed extends Error {
  override name = 'ContentDisallowed';
}

/** The message cannot be decoded (bad JSON, bad base64, bad compression, wrong body shape): log it and drop it. */
export class DecodeError extends Error {
  override name = 'DecodeError';
}

/** Neither a v2 nor a v1 task message (Celery's "unknown message"): reject without requeue. */
export class InvalidTaskMessage extends Error {
  override name = 'InvalidTaskMessage';
}
