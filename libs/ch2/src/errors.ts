/** Errors a CH-2 caller sees when no answer came (business outcomes are responses, never errors). */
export class Ch2UnavailableError extends Error {
  constructor(message: string, readonly subject: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'Ch2UnavailableError';
  }
}

/** No enabler is subscribed to the subject (NATS "no responders"). */
export class Ch2NoRespondersError extends Ch2UnavailableError {
  constructor(subject: string, options?: { cause?: unknown }) {
    super(`no charging enabler answers on ${subject}`, subject, options);
    this.name = 'Ch2NoRespondersError';
  }
}

/** The enabler did not answer within Tx after every retry. */
export class Ch2TimeoutError extends Ch2UnavailableError {
  constructor(subject: string, readonly attempts: number, options?: { cause?: unknown }) {
    super(`no answer on ${subject} after ${attempts} attempt(s)`, subject, options);
    this.name = 'Ch2TimeoutError';
  }
}

/** The transport carried an error instead of a CH-2 response (a bug on one side). */
export class Ch2RemoteError extends Error {
  constructor(readonly subject: string, readonly remote: unknown) {
    super(`charging enabler answered ${subject} with an error: ${JSON.stringify(remote)}`);
    this.name = 'Ch2RemoteError';
  }
}
