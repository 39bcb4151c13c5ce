/**
 * The services' Nest logger (operations.md "Environment": LOG_LEVEL, LOG_FORMAT). Lines are for whoever reads them:
 * one human-readable line per entry when stdout is a terminal (or LOG_FORMAT=pretty), one JSON object per line
 * otherwise (or LOG_FORMAT=json) — Nest's own JSON shape: `{level, pid, timestamp, message, context}`.
 * Nest's start-up chatter (route mapping, module initialisation) is logged at debug level, not info.
 */
import { ConsoleLogger, LogLevel as NestLogLevel } from '@nestjs/common';
import { inspect } from 'node:util';
import { EnvReader } from './env-reader';

export const LOG_FORMATS = ['pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** LOG_FORMAT, or — when it is unset — `pretty` for a terminal and `json` for anything else (a pipe, a file, a collector). */
export function readLogFormat(r: EnvReader, stdoutIsTty = process.stdout.isTTY === true): LogFormat {
  return r.oneOf('LOG_FORMAT', LOG_FORMATS, stdoutIsTty ? 'pretty' : 'json');
}

/**
 * Nest contexts whose `log` lines are start-up detail — one line per route and per module, and "starting" /
 * "successfully started" (each service logs its own "ready" line with its addresses).
 */
export const DEBUG_CONTEXTS: ReadonlySet<string> = new Set(['RoutesResolver', 'RouterExplorer', 'InstanceLoader', 'NestFactory', 'NestApplication', 'NestMicroservice']);

export interface LogEntry {
  time: Date;
  level: NestLogLevel;
  service: string;
  /** Nest's context (a class name) when it is not the service's own. */
  context?: string;
  message: unknown;
}

const LEVEL_NAMES: Record<NestLogLevel, string> = { fatal: 'FATAL', error: 'ERROR', warn: 'WARN', log: 'INFO', debug: 'DEBUG', verbose: 'TRACE' };
const LEVEL_COLOURS: Record<NestLogLevel, number> = { fatal: 31, error: 31, warn: 33, log: 32, debug: 35, verbose: 36 };

/** The longest service name ('charging-enabler'): the two services' lines align in one terminal. */
const SERVICE_WIDTH = 16;

function paint(code: number, text: string, colours: boolean): string {
  return colours ? `\x1b[${code}m${text}\x1b[0m` : text;
}

function two(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** `17:02:03.456 INFO  im-server        [RoutesResolver] message` — local time, level, service, context, message. */
export function formatPrettyLine(e: LogEntry, colours = false): string {
  const t = e.time;
  const time = `${two(t.getHours())}:${two(t.getMinutes())}:${two(t.getSeconds())}.${two(t.getMilliseconds(), 3)}`;
  const level = paint(LEVEL_COLOURS[e.level], LEVEL_NAMES[e.level].padEnd(5), colours);
  const context = e.context && e.context !== e.service ? `${paint(33, `[${e.context}]`, colours)} ` : '';
  const text =
    typeof e.message === 'string'
      ? e.message
      : e.message instanceof Error
        ? (e.message.stack ?? e.message.message)
        : inspect(e.message, { breakLength: Infinity, compact: true, depth: 5 });
  return `${paint(2, time, colours)} ${level} ${paint(1, e.service.padEnd(SERVICE_WIDTH), colours)} ${context}${text}\n`;
}

export interface ServiceLoggerOptions {
  format: LogFormat;
  logLevels: NestLogLevel[];
  /** ANSI colours in pretty lines (default: when stdout is a terminal). */
  colours?: boolean;
}

export class ServiceLogger extends ConsoleLogger {
  private readonly pretty: boolean;
  private readonly colours: boolean;

  constructor(
    private readonly service: string,
    opts: ServiceLoggerOptions,
  ) {
    super(service, { json: opts.format === 'json', logLevels: opts.logLevels, colors: false });
    this.pretty = opts.format === 'pretty';
    this.colours = opts.colours ?? process.stdout.isTTY === true;
  }

  /** Nest passes its context last; route mapping and module initialisation go to debug. */
  override log(message: unknown, ...rest: unknown[]): void {
    const context = rest[rest.length - 1];
    if (typeof context === 'string' && DEBUG_CONTEXTS.has(context)) return this.debug(message, ...rest);
    super.log(message, ...rest);
  }

  protected override printMessages(messages: unknown[], context = '', logLevel: NestLogLevel = 'log', writeStreamType?: 'stdout' | 'stderr', errorStack?: unknown): void {
    if (!this.pretty) return super.printMessages(messages, context, logLevel, writeStreamType, errorStack);
    for (const message of messages)
      process[writeStreamType ?? 'stdout'].write(formatPrettyLine({ time: new Date(), level: logLevel, service: this.service, context, message }, this.colours));
  }
}
