import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

// Column types from decorator metadata, as most Nest apps write entities.
@Entity('widgets')
export class Widget {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column()
  name!: string;
}
