/** Bearer-token guard of the admin HTTP API (operations.md "Admin HTTP"). Health and metrics stay open. */
import { CanActivate, ExecutionContext, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';

export const ADMIN_TOKEN = Symbol('ADMIN_TOKEN');

@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly expected?: Buffer;

  constructor(@Inject(ADMIN_TOKEN) token: string | undefined) {
    this.expected = token ? Buffer.from(token) : undefined;
  }

  canActivate(ctx: ExecutionContext): boolean {
    if (!this.expected) return true; // development without ADMIN_TOKEN: logged loudly at start
    const req = ctx.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>();
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    const got = m ? Buffer.from(m[1].trim()) : undefined;
    if (!got || got.length !== this.expected.length || !timingSafeEqual(got, this.expected))
      throw new UnauthorizedException('a valid bearer token is required (Authorization: Bearer <ADMIN_TOKEN>)');
    return true;
  }
}
