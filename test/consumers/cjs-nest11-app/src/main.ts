import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';

async function main() {
  const app = await NestFactory.create(AppModule);
  app.setGlobalPrefix('api');
  app.enableShutdownHooks();
  try {
    await app.listen(process.env.PORT ?? 3000);
  } catch (error) {
    await app.close(); // close the pools, so the process can end
    throw error;
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
