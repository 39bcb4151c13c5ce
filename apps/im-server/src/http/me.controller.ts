/**
 * `GET /v1/me/balance` — a SIP user's own credit, for the browser client: HTTP Basic with the SIP username and
 * password (`SubscriberBasicGuard`: checked against the stored HA1, throttled), answered from the Charging Enabler
 * by `ch2.balance`. Only ever the caller's own account.
 */
import { Controller, Get, HttpException, Inject, Req, ServiceUnavailableException, UseGuards } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { IM_BALANCE } from '../tokens';
import { SubscriberBasicGuard, SubscriberRequest } from './subscriber-basic.guard';

export type BalanceLookup = (aor: string) => Promise<{ result: string; balance?: number; reserved?: number; available?: number; currency?: string } | undefined>;

@ApiExcludeController()
@UseGuards(SubscriberBasicGuard)
@Controller('v1/me')
export class MeController {
  constructor(@Inject(IM_BALANCE) private readonly balance: BalanceLookup) {}

  @Get('balance')
  async get(@Req() req: SubscriberRequest) {
    const aor = req.subscriber!;
    const r = await this.balance(aor);
    if (!r) throw new ServiceUnavailableException('charging is unavailable; try again later');
    if (r.result === 'USER_UNKNOWN') throw new HttpException({ statusCode: 404, message: 'no charging account' }, 404);
    if (r.result !== 'SUCCESS') throw new ServiceUnavailableException(`charging answered ${r.result}`);
    return { aor, balance: r.balance, reserved: r.reserved, available: r.available, currency: r.currency };
  }
}
