/**
 * Admin HTTP answers 503 + Retry-After, not 500, while Redis cannot serve a request: a primary being failed over
 * (CLUSTERDOWN, MOVED/ASK redirections exhausted, TRYAGAIN, "Connection is closed"), a restart, or a replica that
 * refuses writes (READONLY). The caller may retry the same request; nothing was changed by the failed call, since
 * every change is one script that ran or did not.
 */
import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { RateLimitedLog } from './rate-limited-log';

const UNAVAILABLE = /CLUSTERDOWN|TRYAGAIN|READONLY|LOADING|MASTERDOWN|Too many Cluster redirections|Connection is closed|Reached the max retries|ClusterAllFailed|ECONNREFUSED|ECONNRESET|^MOVED |^ASK /;

/** The part of Express's response this filter uses. */
interface HttpResponse {
  setHeader(name: string, value: string): void;
  status(code: number): { json(body: unknown): void };
}

export function isStorageUnavailable(e: unknown): boolean {
  if (!(e instanceof Error) || e instanceof HttpException) return false;
  return UNAVAILABLE.test(e.message) || e.name === 'MaxRetriesPerRequestError' || e.name === 'ClusterAllFailedError';
}

@Catch()
export class StorageUnavailableFilter extends BaseExceptionFilter implements ExceptionFilter {
  private readonly log = new RateLimitedLog((line) => Logger.warn(line, 'AdminHttp'));

  catch(e: unknown, host: ArgumentsHost): void {
    if (!isStorageUnavailable(e) || host.getType() !== 'http') return super.catch(e, host);
    this.log.log('storage', `admin request refused with 503: storage unavailable (${(e as Error).message})`);
    const res = host.switchToHttp().getResponse<HttpResponse>();
    res.setHeader('Retry-After', '1');
    res.status(503).json({ statusCode: 503, message: 'storage temporarily unavailable (failover or restart in progress); retry', error: 'Service Unavailable' });
  }
}
