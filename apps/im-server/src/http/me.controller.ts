/**
 * The SIP user's own endpoints, for the browser client and `imc retrieve`: HTTP Basic with the SIP username and
 * password (`SubscriberBasicGuard`: checked against the stored HA1, throttled). Only ever the caller's own account.
 * - `GET /v1/me/balance` — credit, from the Charging Enabler by `ch2.balance`;
 * - `GET /v1/me/deferred` — advice of charge before a retrieval (aoc/deferred-quote.ts): what the waiting messages
 *   would cost and how many of them the credit covers; nothing reserved or charged.
 */
import { Controller, Get, HttpException, Inject, Req, ServiceUnavailableException, UseGuards } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { IM_BALANCE, IM_QUOTE } from '../tokens';
import { SubscriberBasicGuard, SubscriberRequest } from './subscriber-basic.guard';
import type { DeferredQuoter } from '../aoc/deferred-quote';

export type BalanceLookup = (aor: string) => Promise<{ result: string; balance?: number; reserved?: number; available?: number; currency?: string } | undefined>;

@ApiExcludeController()
@UseGuards(SubscriberBasicGuard)
@Controller('v1/me')
export class MeController {
  constructor(
    @Inject(IM_BALANCE) private readonly balance: BalanceLookup,
    @Inject(IM_QUOTE) private readonly quoter: Pick<DeferredQuoter, 'quote'>,
  ) {}

  @Get('balance')
  async get(@Req() req: SubscriberRequest) {
    const aor = req.subscriber!;
    const r = await this.balance(aor);
    if (!r) throw new ServiceUnavailableException('charging is unavailable; try again later');
    if (r.result === 'USER_UNKNOWN') throw new HttpException({ statusCode: 404, message: 'no charging account' }, 404);
    if (r.result !== 'SUCCESS') throw new ServiceUnavailableException(`charging answered ${r.result}`);
    return { aor, balance: r.balance, reserved: r.reserved, available: r.available, currency: r.currency };
  }

  @Get('deferred')
  async deferred(@Req() req: SubscriberRequest) {
    const r = await this.quoter.quote(req.subscriber!);
    switch (r.kind) {
      case 'quote':
        return r.quote;
      case 'unavailable':
        throw new ServiceUnavailableException('charging is unavailable; try again later');
      case 'no-account':
        throw new HttpException({ statusCode: 404, message: 'no charging account' }, 404);
      case 'refused':
        throw new ServiceUnavailableException(`charging answered ${r.result}: ${r.message}`);
    }
  }
}
