import type { Duplex } from 'node:stream';

/**
 * node-postgres expects a net.Socket: it calls connect(), setNoDelay(), setKeepAlive() and waits for
 * 'connect'. An SSH channel is already connected, so those become no-ops and 'connect' fires at once.
 */
export function socketLike(channel: Duplex): Duplex {
  const s = channel as Duplex & Record<string, unknown>;
  s.connect = () => {
    queueMicrotask(() => channel.emit('connect'));
    return channel;
  };
  s.setNoDelay = () => channel;
  s.setKeepAlive = () => channel;
  s.setTimeout = () => channel;
  s.ref = () => channel;
  s.unref = () => channel;
  return channel;
}
