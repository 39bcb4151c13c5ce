/** The charging-enabler process: configuration from the environment, stops cleanly on SIGINT/SIGTERM. */
import { startChargingEnabler } from './bootstrap';

async function main(): Promise<void> {
  const enabler = await startChargingEnabler(process.env);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${JSON.stringify({ level: 'log', context: 'charging-enabler', message: `${signal}: shutting down` })}\n`);
    enabler.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((e: Error) => {
  process.stderr.write(`${JSON.stringify({ level: 'fatal', context: 'charging-enabler', message: e.message })}\n`);
  process.exit(1);
});
