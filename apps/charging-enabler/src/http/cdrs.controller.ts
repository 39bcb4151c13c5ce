/** Admin HTTP: CDR listing and the tariffs in force (operations.md "Admin HTTP", charging-enabler). */
import { BadRequestException, Controller, Get, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { CDR_TYPES, CdrType, checkSubscriber, USAGE_REPORT_TYPE } from '@imc/ch2';

/** What `type` may filter: the CDR types and the usage reports that share the outbox. */
const LISTED_TYPES = [...CDR_TYPES, USAGE_REPORT_TYPE];
import { CdrStore } from '../cdr/cdr-store';
import { TariffBook } from '../rating/tariff-book';
import { AdminTokenGuard } from './admin-token.guard';

/** Parses an ISO 8601 date-time or epoch milliseconds; names the parameter when it is neither. */
export function parseTime(name: string, v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (Number.isNaN(n)) throw new BadRequestException(`${name}: must be an ISO 8601 date-time or epoch milliseconds`);
  return n;
}

@ApiTags('cdrs')
@ApiBearerAuth()
@UseGuards(AdminTokenGuard)
@Controller('v1')
export class CdrsController {
  constructor(private readonly cdrs: CdrStore, private readonly tariffs: TariffBook) {}

  @Get('cdrs')
  @ApiOperation({ summary: 'CDRs in time order, paged (nextCursor)' })
  @ApiQuery({ name: 'subscriber', required: false })
  @ApiQuery({ name: 'from', required: false, description: 'ISO 8601 or epoch ms, inclusive' })
  @ApiQuery({ name: 'to', required: false, description: 'ISO 8601 or epoch ms, inclusive' })
  @ApiQuery({ name: 'type', required: false, enum: LISTED_TYPES })
  @ApiQuery({ name: 'limit', required: false })
  @ApiQuery({ name: 'cursor', required: false })
  async list(
    @Query('subscriber') subscriber?: string,
    @Query('from') from?: string,
    @Query('to') to?: string,
    @Query('type') type?: string,
    @Query('limit') limit?: string,
    @Query('cursor') cursor?: string,
  ) {
    const checked = subscriber ? checkSubscriber('subscriber', subscriber) : undefined;
    if (checked && !checked.ok) throw new BadRequestException(checked.problem);
    const sub = checked?.ok ? checked.value : undefined;
    if (type && !(LISTED_TYPES as readonly string[]).includes(type)) throw new BadRequestException(`type: must be one of ${LISTED_TYPES.join(', ')}`);
    if (limit && !/^\d+$/.test(limit)) throw new BadRequestException('limit: must be a positive integer');
    return this.cdrs.list({
      subscriber: sub,
      from: parseTime('from', from),
      to: parseTime('to', to),
      type: type as CdrType | undefined,
      limit: limit ? Number(limit) : undefined,
      cursor,
    });
  }

  @Get('tariffs')
  @ApiOperation({ summary: 'The tariffs in force, as loaded from TARIFFS_FILE' })
  tariffList() {
    const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
    return {
      tariffs: this.tariffs.all().map((t) => ({
        service: t.service,
        currency: t.currency,
        timeZone: t.timeZone,
        pricePerMessage: t.pricePerMessage,
        pricePerKiB: t.pricePerKiB,
        windows: t.windows.map((w) => ({ name: w.name, from: hhmm(w.fromMin), to: hhmm(w.toMin), pricePerMessage: w.pricePerMessage, pricePerKiB: w.pricePerKiB, ratingGroup: w.ratingGroup })),
        accounts: Object.fromEntries(t.accounts),
        ratingGroups: Object.fromEntries(t.ratingGroups),
      })),
    };
  }
}
