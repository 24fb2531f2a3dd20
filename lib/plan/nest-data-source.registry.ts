import type { ModuleRef, ModulesContainer } from '@nestjs/core';
import { getDataSourceToken } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { DataSourceRegistry } from './migration-plan.js';

/** Finds DataSources registered through @nestjs/typeorm in the running Nest application. */
export class NestDataSourceRegistry implements DataSourceRegistry {
  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly modules: ModulesContainer,
  ) {}

  find(name: string): DataSource | undefined {
    try {
      const found: unknown = this.moduleRef.get(getDataSourceToken(name), { strict: false });
      return found instanceof DataSource ? found : undefined;
    } catch {
      return undefined;
    }
  }

  names(): string[] {
    const names = new Set<string>();
    for (const module of this.modules.values()) {
      for (const [token, wrapper] of module.providers) {
        if (!(wrapper.instance instanceof DataSource)) continue;
        if (token === DataSource) names.add('default');
        else if (typeof token === 'string' && token.endsWith('DataSource')) names.add(token.slice(0, -'DataSource'.length));
      }
    }
    return [...names];
  }
}
