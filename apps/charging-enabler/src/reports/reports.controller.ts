/** `GET /v1/reports/billing?from=&to=&format=json|csv|html` for billing staff. */
import { BadRequestException, Controller, Get, Inject, OnModuleDestroy, Query, Res, UseGuards } from '@nestjs/common';
import { connect, NatsConnection } from 'nats';
import type { EnablerConfig } from '../config';
import { ENABLER_CONFIG } from '../tokens';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { CdrStore } from '../cdr/cdr-store';
import { RedisCreditLedger } from '../ledger/redis-credit-ledger';
import { AdminTokenGuard } from '../http/admin-token.guard';
import { parseTime } from '../http/cdrs.controller';
import { buildBillingReport, CdrSource, reportCsv, reportHtml } from './billing-report';
import { JetStreamCdrSource } from './jetstream-cdr-source';
import { TieredCdrSource } from './tiered-cdr-source';

@ApiTags('reports')
@ApiBearerAuth()
@UseGuards(AdminTokenGuard)
@Controller('v1/reports')
export class ReportsController implements OnModuleDestroy {
  /** A connection of its own for reading the CDR stream, opened on the first `source=jetstream` report. */
  private nc?: Promise<NatsConnection>;

  constructor(
    private readonly cdrs: CdrStore,
    private readonly ledger: RedisCreditLedger,
    @Inject(ENABLER_CONFIG) private readonly config: EnablerConfig,
  ) {}

  private async jetStream(): Promise<CdrSource> {
    this.nc ??= connect({ ...this.config.nats, name: 'charging-enabler-reports', noAsyncTraces: true });
    return new JetStreamCdrSource(await this.nc, this.config.cdrStream, this.config.subjectPrefix);
  }

  async onModuleDestroy(): Promise<void> {
    const nc = await this.nc?.catch(() => undefined);
    await nc?.close();
  }

  @Get('billing')
  @ApiOperation({ summary: 'Billing report per subscriber and service, totals, revenue per day, reconciliation' })
  @ApiQuery({ name: 'from', required: false })
  @ApiQuery({ name: 'to', required: false })
  @ApiQuery({ name: 'format', required: false, enum: ['json', 'csv', 'html'] })
  @ApiQuery({ name: 'source', required: false, enum: ['store', 'jetstream'], description: 'CDR store (default; periods past CDR_RETENTION_DAYS are read from JetStream) or only the JetStream CDR stream' })
  async billing(
    @Res({ passthrough: true }) res: { setHeader(k: string, v: string): void },
    @Query('from') from?: string,
    @Query('to') to?: string,
    @Query('format') format = 'json',
    @Query('source') source = 'store',
  ) {
    if (!['json', 'csv', 'html'].includes(format)) throw new BadRequestException('format: must be json, csv or html');
    if (!['store', 'jetstream'].includes(source)) throw new BadRequestException('source: must be store or jetstream');
    // the store: the outbox, and JetStream for what was trimmed from it after CDR_RETENTION_DAYS; the reconciliation
    // reads the outbox with its opening figures. `jetstream`: everything from the stream (a check of the stream).
    const [rows, life] = source === 'jetstream' ? [await this.jetStream(), undefined] : [new TieredCdrSource(this.cdrs, () => this.jetStream()), this.cdrs];
    const report = await buildBillingReport(rows, this.ledger, parseTime('from', from), parseTime('to', to), life ?? rows);
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
