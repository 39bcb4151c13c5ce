/** The im-server process: configuration from the environment, stops cleanly on SIGINT/SIGTERM. */
import { startImServer } from './bootstrap';

async function main(): Promise<void> {
  const server = await startImServer(process.env);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${JSON.stringify({ level: 'log', context: 'im-server', message: `${signal}: shutting down` })}\n`);
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((e: Error) => {
  process.stderr.write(`${JSON.stringify({ level: 'fatal', context: 'im-server', message: e.message })}\n`);
  process.exit(1);
});
