/**
 * Who may call `/3gpp-bdt/v1/{asId}/…` (docs/windows-and-usage.md "Who may call"): the application server's own
 * bearer token for its own asId, or the admin token for any registered asId (the operator acting for it). No token
 * → 401; an unknown asId or another AS's token → 403.
 */
import { CanActivate, ExecutionContext, ForbiddenException, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';
import { IM_ADMIN_TOKEN } from '../tokens';
import { AS_ID_RE, AsRegistry } from './as-registry';

@Injectable()
export class AsTokenGuard implements CanActivate {
  private readonly admin?: Buffer;

  constructor(@Inject(IM_ADMIN_TOKEN) adminToken: string | undefined, private readonly registry: AsRegistry) {
    this.admin = adminToken ? Buffer.from(adminToken) : undefined;
  }

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<{ headers: Record<string, string | undefined>; params: Record<string, string> }>();
    const asId = req.params.asId;
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    const token = m?.[1].trim();
    if (!token && this.admin) throw new UnauthorizedException('a bearer token is required (Authorization: Bearer <the application server\'s token>)');
    const forbidden = () => new ForbiddenException({ status: 403, title: 'Forbidden', detail: `not authorised for application server ${JSON.stringify(asId).slice(0, 80)}` });
    if (!AS_ID_RE.test(asId) || !(await this.registry.known(asId))) throw forbidden();
    const got = token ? Buffer.from(token) : undefined;
    // no ADMIN_TOKEN: the admin API is open (development), and so is acting for any registered AS
    const isAdmin = !this.admin || (!!got && got.length === this.admin.length && timingSafeEqual(got, this.admin));
    if (isAdmin) return true;
    if (token && (await this.registry.tokenFits(asId, token))) return true;
    throw forbidden();
  }
}
