/** Bearer-token guard of the im-server's admin HTTP API. */
import { Inject, Injectable } from '@nestjs/common';
import { BearerTokenGuard } from '@imc/runtime';
import { IM_ADMIN_TOKEN } from '../tokens';

@Injectable()
export class ImAdminGuard extends BearerTokenGuard {
  constructor(@Inject(IM_ADMIN_TOKEN) token: string | undefined) {
    super(token);
  }
}
