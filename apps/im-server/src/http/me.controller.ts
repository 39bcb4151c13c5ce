/**
 * `GET /v1/me/balance` — a SIP user's own credit, for the browser client: HTTP Basic with the SIP username and
 * password (checked against the stored MD5 HA1 of the digest realm, never a stored password), answered from the
 * Charging Enabler by `ch2.balance`. Only ever the caller's own account.
 */
import { Controller, Get, Headers, HttpException, Inject, ServiceUnavailableException, UnauthorizedException } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { createHash, timingSafeEqual } from 'node:crypto';
import { IM_BALANCE, IM_CONFIG } from '../tokens';
import type { ImServerConfig } from '../config';
import { UserStore } from '../store/user-store';

export type BalanceLookup = (aor: string) => Promise<{ result: string; balance?: number; reserved?: number; available?: number; currency?: string } | undefined>;

@ApiExcludeController()
@Controller('v1/me')
export class MeController {
  constructor(
    @Inject(IM_CONFIG) private readonly config: ImServerConfig,
    @Inject(IM_BALANCE) private readonly balance: BalanceLookup,
    private readonly users: UserStore,
  ) {}

  private async authenticate(header: string | undefined): Promise<string> {
    const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header ?? '');
    const decoded = m ? Buffer.from(m[1], 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    const user = colon > 0 ? decoded.slice(0, colon) : '';
    if (!user || !/^[^@\s:]+$/.test(user)) throw new UnauthorizedException('HTTP Basic with your SIP username and password is required');
    const aor = `sip:${user}@${this.config.domain}`;
    const stored = await this.users.ha1(aor, 'MD5');
    const given = createHash('md5').update(`${user}:${this.config.domain}:${decoded.slice(colon + 1)}`).digest('hex');
    if (!stored || stored.length !== given.length || !timingSafeEqual(Buffer.from(stored), Buffer.from(given))) throw new UnauthorizedException('wrong username or password');
    return aor;
  }

  @Get('balance')
  async get(@Headers('authorization') authorization?: string) {
    const aor = await this.authenticate(authorization);
    const r = await this.balance(aor);
    if (!r) throw new ServiceUnavailableException('charging is unavailable; try again later');
    if (r.result === 'USER_UNKNOWN') throw new HttpException({ statusCode: 404, message: 'no charging account' }, 404);
    if (r.result !== 'SUCCESS') throw new ServiceUnavailableException(`charging answered ${r.result}`);
    return { aor, balance: r.balance, reserved: r.reserved, available: r.available, currency: r.currency };
  }
}
