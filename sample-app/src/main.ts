import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule);
  app.enableShutdownHooks();
  const port = Number(process.env['PORT'] ?? 3000);
  try {
    // listen() awaits bootstrap: in blocking mode the port opens only once migrations are done.
    await app.listen(port);
  } catch (error) {
    await app.close();
    throw error;
  }
  console.log(`Sample app listening on http://localhost:${port} (try /notes, /health/live, /health/ready)`);
}

bootstrap().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
