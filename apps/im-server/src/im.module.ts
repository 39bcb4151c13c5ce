/** The im-server's Nest module: admin HTTP, health and metrics over the parts built by the bootstrap. */
import { DynamicModule, Module } from '@nestjs/common';
import type { ImServerConfig } from './config';
import { IM_ADMIN_TOKEN, IM_BALANCE, IM_CONFIG, IM_QUOTE, IM_READINESS, ImReadiness } from './tokens';
import type { DeferredQuoter } from './aoc/deferred-quote';
import { BalanceLookup, MeController } from './http/me.controller';
import { DeferredStore } from './store/deferred-store';
import { UserStore } from './store/user-store';
import { DepositService } from './deposit/deposit.service';
import { ImMetrics } from './observability/im-metrics';
import { UsersController } from './http/users.controller';
import { ImHealthController } from './http/im-health.controller';
import { ImAdminGuard } from './http/admin.guard';
import { SubscriberBasicGuard } from './http/subscriber-basic.guard';
import { LoginThrottle } from './auth/login-throttle';
import type { Windows } from './windows/windows';
import { BdtController } from './windows/bdt.controller';
import { BdtAdminController } from './windows/bdt-admin.controller';
import { BdtService } from './windows/bdt.service';
import { AsRegistry } from './windows/as-registry';
import { AsTokenGuard } from './windows/as-token.guard';

export interface ImParts {
  config: ImServerConfig;
  store: DeferredStore;
  users: UserStore;
  deposits: DepositService;
  metrics: ImMetrics;
  readiness: ImReadiness & { sample(): Promise<void> };
  balance: BalanceLookup;
  /** Advice of charge before a retrieval (`GET /v1/me/deferred`). */
  quoter: Pick<DeferredQuoter, 'quote'>;
  throttle: LoginThrottle;
  /** Background retrieval windows (windows/): their T8 API and the operator's endpoints. */
  windows?: Windows;
}

@Module({})
export class ImModule {
  static forRoot(p: ImParts): DynamicModule {
    return {
      module: ImModule,
      controllers: [UsersController, ImHealthController, MeController, ...(p.windows ? [BdtController, BdtAdminController] : [])],
      providers: [
        { provide: IM_CONFIG, useValue: p.config },
        { provide: IM_READINESS, useValue: p.readiness },
        { provide: IM_ADMIN_TOKEN, useValue: p.config.adminToken },
        { provide: IM_BALANCE, useValue: p.balance },
        { provide: IM_QUOTE, useValue: p.quoter },
        { provide: DeferredStore, useValue: p.store },
        { provide: UserStore, useValue: p.users },
        { provide: DepositService, useValue: p.deposits },
        { provide: ImMetrics, useValue: p.metrics },
        { provide: LoginThrottle, useValue: p.throttle },
        ImAdminGuard,
        SubscriberBasicGuard,
        ...(p.windows
          ? [{ provide: BdtService, useValue: p.windows.service }, { provide: AsRegistry, useValue: p.windows.registry }, AsTokenGuard]
          : []),
      ],
    };
  }
}
