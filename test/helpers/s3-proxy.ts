// A TCP proxy in front of a test S3 server. Stopping it is an S3 outage that keeps the stored
// objects; its per-chunk delay paces the client, so a test that needs a run to last (progress
// lines, an outage mid-run) does not depend on how fast the machine is.
import { createServer, connect, type Server, type Socket } from "node:net";
import { freePort } from "./servers";

export interface S3ProxyOptions {
  /** Each chunk the client sends waits this long before it goes upstream (default 0). */
  readonly delayMs?: number;
}

export class S3Proxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();

  private constructor(
    readonly port: number,
    private readonly target: number,
    private readonly delayMs: number,
  ) {}

  /** A proxy on a free port of 127.0.0.1 to `target`, already accepting connections. */
  static async start(target: number, options: S3ProxyOptions = {}): Promise<S3Proxy> {
    const proxy = new S3Proxy(await freePort(), target, options.delayMs ?? 0);
    await proxy.up();
    return proxy;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  up(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.target, "127.0.0.1");
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.once("close", () => this.sockets.delete(s));
        s.on("error", () => (client.destroy(), upstream.destroy()));
      }
      if (this.delayMs > 0) {
        // Hold the client until the chunk is forwarded: requests on one connection stay in
        // order and each costs at least delayMs.
        client.on("data", (chunk) => {
          client.pause();
          setTimeout(() => {
            if (!upstream.destroyed) upstream.write(chunk);
            client.resume();
          }, this.delayMs);
        });
        client.once("end", () => setTimeout(() => upstream.end(), this.delayMs));
        upstream.pipe(client);
      } else {
        client.pipe(upstream).pipe(client);
      }
    });
    return new Promise((resolve) => this.server!.listen(this.port, "127.0.0.1", resolve));
  }

  down(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server!.close(() => resolve()));
  }
}
