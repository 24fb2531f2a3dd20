import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';

/** "Expand" step of an expand-then-contract change: a new column with a default, so old code keeps working. */
export class AddNoteCreatedAt1732000000003 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumn(
      'note',
      new TableColumn({ name: 'created_at', type: 'varchar', length: '30', default: "'1970-01-01T00:00:00Z'" }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('note', 'created_at');
  }
}
