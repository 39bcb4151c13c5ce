/** The registrar refused the credentials (or the REGISTER): its status and reason phrase. */
export class RegisterRefusedError extends Error {
  constructor(readonly status: number, readonly reason: string) {
    super(`REGISTER refused: ${status} ${reason}`);
    this.name = 'RegisterRefusedError';
  }
}
