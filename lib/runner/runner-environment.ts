import type { Logger } from '@nestjs/common';
import type { MigrationEvent } from '../events/migration-events.js';
import type { EventSource } from '../events/migration-log.js';
import type { SecretRedactor } from '../util/secret-redactor.js';
import type { RunControl } from './run-control.js';

/** What every runner of one application shares. */
export interface RunnerEnvironment {
  readonly logger: Logger;
  readonly redactor: SecretRedactor;
  readonly control: RunControl;
  /** Reports what happened (`from`: the plan it is about): the state, the log's progress lines and `events$` follow from it. */
  readonly emit: (event: MigrationEvent, from?: EventSource) => void;
}
