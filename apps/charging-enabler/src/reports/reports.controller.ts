/** `GET /v1/reports/billing?from=&to=&format=json|csv|html` for billing staff. */
import { BadRequestException, Controller, Get, Query, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { CdrStore } from '../cdr/cdr-store';
import { RedisCreditLedger } from '../ledger/redis-credit-ledger';
import { AdminTokenGuard } from '../http/admin-token.guard';
import { parseTime } from '../http/cdrs.controller';
import { buildBillingReport, reportCsv, reportHtml } from './billing-report';

@ApiTags('reports')
@ApiBearerAuth()
@UseGuards(AdminTokenGuard)
@Controller('v1/reports')
export class ReportsController {
  constructor(private readonly cdrs: CdrStore, private readonly ledger: RedisCreditLedger) {}

  @Get('billing')
  @ApiOperation({ summary: 'Billing report per subscriber and service, totals, revenue per day, reconciliation' })
  @ApiQuery({ name: 'from', required: false })
  @ApiQuery({ name: 'to', required: false })
  @ApiQuery({ name: 'format', required: false, enum: ['json', 'csv', 'html'] })
  async billing(
    @Res({ passthrough: true }) res: { setHeader(k: string, v: string): void },
    @Query('from') from?: string,
    @Query('to') to?: string,
    @Query('format') format = 'json',
  ) {
    if (!['json', 'csv', 'html'].includes(format)) throw new BadRequestException('format: must be json, csv or html');
    const report = await buildBillingReport(this.cdrs, this.ledger, parseTime('from', from), parseTime('to', to));
    if (format === 'csv') {
      res.setHeader('content-type', 'text/csv; charset=utf-8');
      return reportCsv(report);
    }
    if (format === 'html') {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      return reportHtml(report);
    }
    return report;
  }
}
