/** Bearer-token guard of the enabler's admin HTTP API. */
import { Inject, Injectable } from '@nestjs/common';
import { BearerTokenGuard } from '@imc/runtime';

export const ADMIN_TOKEN = Symbol('ADMIN_TOKEN');

@Injectable()
export class AdminTokenGuard extends BearerTokenGuard {
  constructor(@Inject(ADMIN_TOKEN) token: string | undefined) {
    super(token);
  }
}
