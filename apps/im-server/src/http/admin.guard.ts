/** Bearer-token guard of the im-server admin API. */
import { CanActivate, ExecutionContext, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';
import { IM_ADMIN_TOKEN } from '../tokens';

@Injectable()
export class ImAdminGuard implements CanActivate {
  private readonly expected?: Buffer;
  constructor(@Inject(IM_ADMIN_TOKEN) token: string | undefined) {
    this.expected = token ? Buffer.from(token) : undefined;
  }
  canActivate(ctx: ExecutionContext): boolean {
    if (!this.expected) return true;
    const req = ctx.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>();
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    const got = m ? Buffer.from(m[1].trim()) : undefined;
    if (!got || got.length !== this.expected.length || !timingSafeEqual(got, this.expected))
      throw new UnauthorizedException('a valid bearer token is required (Authorization: Bearer <ADMIN_TOKEN>)');
    return true;
  }
}
