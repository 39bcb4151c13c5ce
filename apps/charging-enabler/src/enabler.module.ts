/**
 * The enabler's Nest module. The core objects (ledger, tariffs, charging service, CDR store) are built once by
 * the bootstrap and provided here as values, so the NATS hot path never goes through per-request DI.
 * Extra modules (e.g. the billing reports) are passed in by the bootstrap.
 */
import { DynamicModule, Module, Type } from '@nestjs/common';
import type { EnablerConfig } from './config';
import { ENABLER_CONFIG, ENABLER_READINESS, Readiness, REDIS_CLIENT } from './tokens';
import { RedisCreditLedger } from './ledger/redis-credit-ledger';
import { TariffBook } from './rating/tariff-book';
import { ChargingService } from './ch2/charging.service';
import { Notifier } from './ch2/notifier';
import { CdrStore } from './cdr/cdr-store';
import { EnablerMetrics } from './observability/enabler-metrics';
import { AccountsController } from './http/accounts.controller';
import { CdrsController } from './http/cdrs.controller';
import { MonitoringController } from './http/monitoring.controller';
import { HealthController } from './http/health.controller';
import { ReportsController } from './reports/reports.controller';
import { CdrRepublishController } from './cdr/cdr-republish.controller';
import { ADMIN_TOKEN, AdminTokenGuard } from './http/admin-token.guard';
import type { RedisClient } from '@imc/runtime';

export interface EnablerParts {
  config: EnablerConfig;
  redis: RedisClient;
  ledger: RedisCreditLedger;
  tariffs: TariffBook;
  charging: ChargingService;
  notifier: Notifier;
  cdrs: CdrStore;
  metrics: EnablerMetrics;
  readiness: Readiness;
}

@Module({})
export class EnablerModule {
  static forRoot(parts: EnablerParts, extra: Type<unknown>[] = []): DynamicModule {
    const values = [
      { provide: ENABLER_CONFIG, useValue: parts.config },
      { provide: REDIS_CLIENT, useValue: parts.redis },
      { provide: ENABLER_READINESS, useValue: parts.readiness },
      { provide: ADMIN_TOKEN, useValue: parts.config.adminToken },
      { provide: RedisCreditLedger, useValue: parts.ledger },
      { provide: TariffBook, useValue: parts.tariffs },
      { provide: ChargingService, useValue: parts.charging },
      { provide: Notifier, useValue: parts.notifier },
      { provide: CdrStore, useValue: parts.cdrs },
      { provide: EnablerMetrics, useValue: parts.metrics },
    ];
    return {
      module: EnablerModule,
      global: true,
      imports: extra,
      controllers: [AccountsController, MonitoringController, CdrsController, HealthController, ReportsController, CdrRepublishController],
      providers: [...values, AdminTokenGuard],
      exports: [...values.map((v) => v.provide), AdminTokenGuard],
    };
  }
}
