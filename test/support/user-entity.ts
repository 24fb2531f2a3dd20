import { EntitySchema } from 'typeorm';

const USER_COLUMNS = {
  id: { type: Number, primary: true },
  name: { type: String, nullable: true },
  nickname: { type: String, nullable: true },
  age: { type: Number, nullable: true },
  org_id: { type: Number, nullable: true },
} as const;

/** A release's `User` entity on the table users, mapping `id` and the given columns (what its pods select and insert). */
export function userEntity(columns: ReadonlyArray<keyof typeof USER_COLUMNS>): EntitySchema {
  return new EntitySchema({
    name: 'User',
    tableName: 'users',
    columns: Object.fromEntries(
      Object.entries(USER_COLUMNS).filter(([name]) => name === 'id' || (columns as readonly string[]).includes(name)),
    ),
  });
}
