import { connect, createServer, type Server, type Socket } from 'node:net';

/** One client connection through the proxy: the client's socket and the one to the database. */
interface Link {
  readonly client: Socket;
  readonly upstream: Socket;
  /** Data is dropped both ways; the sockets stay open. */
  dead: boolean;
}

/**
 * A TCP proxy to a database, under the test's control: it can start late (the database is down at
 * boot), and it can black-hole connections (a silent partition: no data passes either way, and no
 * socket is closed, as when a NAT entry dies or a host fails over).
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly links = new Set<Link>();
  private blackHoleNew = false;

  constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  /** A proxy on `port` for the database at `url` (its host and port; default `defaultPort`). */
  static forUrl(port: number, url: string, defaultPort: number): TcpProxy {
    const parsed = new URL(url);
    return new TcpProxy(port, { host: parsed.hostname, port: Number(parsed.port || defaultPort) });
  }

  /** `url` with its host and port pointing at this proxy. */
  route(url: string): string {
    const routed = new URL(url);
    routed.hostname = '127.0.0.1';
    routed.port = String(this.port);
    return routed.toString();
  }

  /** Connections open through the proxy now. */
  get connections(): number {
    return this.links.size;
  }

  start(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      const link: Link = { client, upstream, dead: this.blackHoleNew };
      this.links.add(link);
      for (const [from, to] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        from.on('data', (chunk: Buffer) => {
          if (!link.dead) to.write(chunk);
        });
        // A closed side closes the other, unless the link is black-holed (then nothing passes).
        from.on('end', () => {
          if (!link.dead) to.end();
        });
        from.on('close', () => {
          if (!link.dead) to.destroy();
          if (client.destroyed && upstream.destroyed) this.links.delete(link);
        });
        from.on('error', () => from.destroy());
      }
    });
    return new Promise((resolve) => this.server!.listen(this.port, '127.0.0.1', () => resolve()));
  }

  /**
   * Stops forwarding without closing anything: every open connection (and, with `newConnections`,
   * every later one) keeps its sockets open while data is dropped both ways.
   */
  blackHole(options: { newConnections: boolean }): void {
    for (const link of this.links) link.dead = true;
    this.blackHoleNew = options.newConnections;
  }

  /** Closes every connection and the listening socket. */
  async stop(): Promise<void> {
    for (const link of this.links) {
      link.client.destroy();
      link.upstream.destroy();
    }
    this.links.clear();
    await new Promise<void>((resolve) => (this.server?.listening ? this.server.close(() => resolve()) : resolve()));
  }
}
