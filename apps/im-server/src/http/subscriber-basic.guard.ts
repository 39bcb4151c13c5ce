/**
 * HTTP Basic for a SIP user's own endpoints (`/v1/me/*`): the SIP username and password, checked against the stored
 * MD5 HA1 of the digest realm (never a stored password), throttled like SIP digest (auth/login-throttle.ts) — 429
 * with Retry-After (RFC 6585 §4) once a source or an account has had too many wrong guesses. On success the
 * caller's AOR is on the request as `subscriber`.
 */
import { BadRequestException, CanActivate, ExecutionContext, HttpException, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import { IM_CONFIG } from '../tokens';
import type { ImServerConfig } from '../config';
import { UserStore } from '../store/user-store';
import { ImMetrics } from '../observability/im-metrics';
import { LoginThrottle } from '../auth/login-throttle';
import { identityOfUsername } from '../auth/subscriber-identity';

export interface SubscriberRequest {
  headers: Record<string, string | string[] | undefined>;
  socket: { remoteAddress?: string };
  subscriber?: string;
}

@Injectable()
export class SubscriberBasicGuard implements CanActivate {
  constructor(
    @Inject(IM_CONFIG) private readonly config: ImServerConfig,
    private readonly users: UserStore,
    private readonly throttle: LoginThrottle,
    private readonly metrics: ImMetrics,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const http = ctx.switchToHttp();
    const req = http.getRequest<SubscriberRequest>();
    const header = req.headers.authorization;
    const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(typeof header === 'string' ? header : '');
    const decoded = m ? Buffer.from(m[1], 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    const user = colon > 0 ? decoded.slice(0, colon) : '';
    if (!user || !/^[^@\s:]+$/.test(user)) {
      this.metrics.httpAuthFailure(m ? 'malformed' : 'missing');
      throw new UnauthorizedException('HTTP Basic with your SIP username and password is required');
    }
    const identity = identityOfUsername(user, this.config.domain);
    const decision = await this.throttle.begin(req.socket.remoteAddress ?? 'unknown', identity.ok ? identity.value : undefined);
    if (!decision.allowed) {
      this.metrics.authThrottled('http', decision.scope);
      http.getResponse<{ setHeader(n: string, v: string): void }>().setHeader('Retry-After', String(decision.retryAfterSeconds));
      const why = decision.inProgress ? 'too many logins in progress' : 'too many failed logins';
      throw new HttpException({ statusCode: 429, error: 'Too Many Requests', message: `${why}; retry in ${decision.retryAfterSeconds} s` }, 429);
    }
    if (!identity.ok) {
      await this.throttle.failed(decision.ticket);
      this.metrics.httpAuthFailure('malformed');
      throw new BadRequestException([identity.problem]);
    }
    const stored = await this.users.ha1(identity.value, 'MD5');
    const given = createHash('md5').update(`${user}:${this.config.domain}:${decoded.slice(colon + 1)}`).digest('hex');
    if (!stored || stored.length !== given.length || !timingSafeEqual(Buffer.from(stored), Buffer.from(given))) {
      await this.throttle.failed(decision.ticket);
      this.metrics.httpAuthFailure(stored ? 'wrong-password' : 'unknown-user');
      throw new UnauthorizedException('wrong username or password');
    }
    await this.throttle.succeeded(decision.ticket);
    req.subscriber = identity.value;
    return true;
  }
}
