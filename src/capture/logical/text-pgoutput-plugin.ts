import type pg from 'pg';
import { PgoutputPlugin } from 'pg-logical-replication';
import { PgoutputDecoder } from './pgoutput-decoder.js';

/** What the plugin hands to the service for a payload it could not decode. */
export interface UndecodableMessage {
  tag: 'undecodable';
  error: Error;
}

/**
 * pg-logical-replication's pgoutput plugin with our own decoder in place of the library's,
 * which parses values into JS types (timestamptz into a millisecond Date, int8 into a
 * Number) and cannot mark unchanged TOASTed columns. Protocol version 1.
 *
 * @example
 * ```ts
 * const plugin = new TextPgoutputPlugin('crypto_replicator');
 * await service.subscribe(plugin, 'crypto_replicator');
 * ```
 */
export class TextPgoutputPlugin extends PgoutputPlugin {
  private readonly decoder = new PgoutputDecoder();

  constructor(private readonly publicationName: string) {
    super({ protoVersion: 1, publicationNames: [publicationName] });
  }

  override parse(buffer: Buffer): ReturnType<PgoutputPlugin['parse']> {
    // A throw here would escape from a socket event handler; hand it over as a value instead.
    try {
      return this.decoder.decode(buffer) as never;
    } catch (error) {
      const undecodable: UndecodableMessage = { tag: 'undecodable', error: error as Error };
      return undecodable as never;
    }
  }

  override start(client: pg.Client, slotName: string, lastLsn: string): Promise<unknown> {
    const options = `proto_version '1', publication_names '"${this.publicationName}"'`;
    return client.query(`START_REPLICATION SLOT "${slotName}" LOGICAL ${lastLsn} (${options})`);
  }
}
