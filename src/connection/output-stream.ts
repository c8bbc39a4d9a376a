import { StringDecoder } from 'node:string_decoder';
import type { RunOptions } from './types.js';

/** Chunks of a command's two streams as text for RunOptions.onOutput (a character split across chunks stays whole). */
export function streamTo(onOutput: RunOptions['onOutput']): Record<'stdout' | 'stderr', (d: Buffer) => void> {
  if (!onOutput) return { stdout: () => {}, stderr: () => {} };
  const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  const feed = (stream: 'stdout' | 'stderr') => (d: Buffer) => {
    const text = decoders[stream].write(d);
    if (text) onOutput(stream, text);
  };
  return { stdout: feed('stdout'), stderr: feed('stderr') };
}
