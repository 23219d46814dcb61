import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameReader, MessageType, Tag, TUNNEL_TOKEN_LEN, decodeFields, fieldNumber } from '../contract/control-protocol.js';
import { PortForwarder } from './port-forwarder.js';

/** a port nothing listens on now */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen({ host: '127.0.0.1', port: 0 }, r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, r));
  return (server.address() as AddressInfo).port;
}

/** the connections the fake guest dialled back, in order */
const dialledBack: Socket[] = [];

/** what the guest's init does on a DIAL (initfs/forward.c), with a local server standing in for the guest's */
function fakeGuest(tunnel: () => { port: number; token: Buffer }, serverPort: number | undefined, token?: Buffer): (frame: Buffer) => void {
  return (frame) => {
    const [f] = new FrameReader().push(frame);
    if (f?.type !== MessageType.dial) return;
    const conn = fieldNumber(decodeFields(f.payload), Tag.conn) ?? 0;
    const back = connect({ port: tunnel().port, host: '127.0.0.1', allowHalfOpen: true });
    dialledBack.push(back);
    const hello = Buffer.alloc(TUNNEL_TOKEN_LEN + 5);
    (token ?? tunnel().token).copy(hello);
    hello.writeUInt32LE(conn, TUNNEL_TOKEN_LEN);
    if (serverPort === undefined) {
      hello[TUNNEL_TOKEN_LEN + 4] = 1;
      back.end(hello);
      return;
    }
    back.write(hello);
    const server = connect({ port: serverPort, host: '127.0.0.1', allowHalfOpen: true });
    back.pipe(server).pipe(back);
  };
}

async function talk(port: number, send: string): Promise<string> {
  const client = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  client.end(send);
  const chunks: Buffer[] = [];
  client.on('data', (c: Buffer) => chunks.push(c));
  await once(client, 'close');
  return Buffer.concat(chunks).toString();
}

describe('PortForwarder: the guest listening ports, in the container', () => {
  const closers: (() => void)[] = [];
  afterEach(() => {
    for (const c of closers.splice(0)) c();
  });

  /** a forwarder whose guest answers DIALs from serverPort (undefined: no server there), with its token or `token` */
  async function forwarding(serverPort: number | undefined, declared = new Set<number>(), token?: Buffer): Promise<PortForwarder> {
    let tunnel = { port: 0, token: Buffer.alloc(0) };
    const forwarder = new PortForwarder(fakeGuest(() => tunnel, serverPort, token), declared);
    closers.push(() => forwarder.close());
    tunnel = await forwarder.start();
    return forwarder;
  }

  it('joins a connection on an undeclared port to the guest server, both ways, half-close included', async () => {
    // the "guest" server answers after the client's end: a half-close must get through, and the answer back
    const echo = createServer({ allowHalfOpen: true }, (s: Socket) => {
      const got: Buffer[] = [];
      s.on('data', (c: Buffer) => got.push(c));
      s.on('end', () => s.end(`got ${Buffer.concat(got).toString()}`));
    });
    const serverPort = await listen(echo);
    closers.push(() => echo.close());
    const forwarder = await forwarding(serverPort);
    const port = await freePort();
    await forwarder.update([port]);
    const answer = await talk(port, 'x'.repeat(200_000));
    expect([answer.length, answer.startsWith('got xxx'), answer.endsWith('xxx')]).toEqual([200_004, true, true]);
  });

  it('refuses the client when the guest server is gone, and stops listening on a port the guest left', async () => {
    const forwarder = await forwarding(undefined);
    const port = await freePort();
    await forwarder.update([port]);
    const client = connect(port, '127.0.0.1');
    const [error] = (await once(client, 'error')) as [NodeJS.ErrnoException];
    expect(error.code).toBe('ECONNRESET');
    await forwarder.update([]);
    const gone = connect(port, '127.0.0.1');
    const [refused] = (await once(gone, 'error')) as [NodeJS.ErrnoException];
    expect(refused.code).toBe('ECONNREFUSED');
  });

  it('leaves declared ports to the network backend, and drops a dial back with the wrong token', async () => {
    const echo = createServer((s: Socket) => s.end('served'));
    const serverPort = await listen(echo);
    closers.push(() => echo.close());
    const declared = await freePort();
    const undeclared = await freePort();
    const forwarder = await forwarding(serverPort, new Set([declared]), Buffer.alloc(TUNNEL_TOKEN_LEN, 9));
    await forwarder.update([declared, undeclared]);
    const notOurs = connect(declared, '127.0.0.1');
    expect(((await once(notOurs, 'error')) as [NodeJS.ErrnoException])[0].code).toBe('ECONNREFUSED');
    // the impostor is dropped; the client waits for the real guest (here: never), nothing reaches it
    dialledBack.length = 0;
    const client = connect(undeclared, '127.0.0.1');
    const got: Buffer[] = [];
    client.on('data', (c: Buffer) => got.push(c));
    client.on('error', () => undefined);
    // the impostor's dial back is made, and the forwarder closes it
    while (dialledBack.length === 0) await new Promise((r) => setImmediate(r));
    const impostor = dialledBack[0] as Socket;
    impostor.on('error', () => undefined);
    if (!impostor.closed) await once(impostor, 'close');
    expect(Buffer.concat(got).toString()).toBe('');
    expect(client.destroyed).toBe(false);
    client.destroy();
  });
});
