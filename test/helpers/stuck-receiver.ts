import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';

/**
 * An endpoint that is up but stuck: it accepts every TCP connection on 127.0.0.1, reads and drops
 * whatever arrives, and never answers. Each attempt sent to it holds its sender's slot until the
 * sender's timeout; a connection the sender closes is counted as closed.
 */
export interface StuckReceiver {
  url: string;
  /** Connections accepted and still open (requests hanging here). */
  open(): number;
  /** Connections accepted since the start. */
  accepted(): number;
  /** Closes the listener and destroys every connection it holds. */
  close(): Promise<void>;
}

export async function startStuckReceiver(): Promise<StuckReceiver> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    // Reading lets the peer's FIN arrive ('end'), so a connection the sender gave up on closes here too.
    socket.resume();
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    open: () => sockets.size,
    accepted: () => accepted,
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
