// The LSP connection. Over stdio the server bounds what it holds for a client that
// sends faster than it reads (200,000 requests from a client that never read stdout
// took the server to 887 MB). Two things grow in that case, and both stop stdin:
//   - messages read but not yet handled: vscode-jsonrpc reads every byte stdin has
//     and queues the parsed messages, handling one per event-loop turn, so a fast
//     sender fills the queue; PacedReader hands messages on one per turn and stops
//     reading stdin while more than MAX_QUEUED_MESSAGES wait;
//   - responses not yet written: while more than MAX_PENDING_WRITES messages wait
//     for stdout, stdin is not read either.
// The client is slowed down instead of the server growing without bound.

import { format } from 'node:util';
import type { Readable } from 'node:stream';
import {
  createConnection,
  ProposedFeatures,
  StreamMessageReader,
  StreamMessageWriter,
  type Connection,
  type DataCallback,
  type Disposable,
  type Message,
  type MessageReader,
  type MessageWriter,
} from 'vscode-languageserver/node';

/** Messages waiting to be written before stdin is no longer read. */
export const MAX_PENDING_WRITES = 1024;
export const MAX_QUEUED_MESSAGES = 256;

/** Pauses a stream while any of its holders asks; resumes when none does. */
export class InputGate {
  private readonly holds = new Set<string>();
  constructor(private readonly input: Readable) {}
  hold(why: string): void {
    if (!this.holds.size) this.input.pause();
    this.holds.add(why);
  }
  release(why: string): void {
    if (!this.holds.delete(why)) return;
    if (!this.holds.size) this.input.resume();
  }
  get paused(): boolean {
    return this.holds.size > 0;
  }
}

/**
 * Counts messages given to the writer and not yet written. vscode-jsonrpc writes
 * one message at a time, each after the previous write's callback, and queues the
 * rest in its own memory (stdout's writableLength stays near zero), so the count of
 * unfinished writes is what measures a client that does not read.
 */
export class PacedWriter implements MessageWriter {
  private pending = 0;
  constructor(
    private readonly inner: MessageWriter,
    private readonly gate: InputGate,
    private readonly max = MAX_PENDING_WRITES,
  ) {}
  get onError() {
    return this.inner.onError;
  }
  get onClose() {
    return this.inner.onClose;
  }
  write(msg: Message): Promise<void> {
    if (++this.pending > this.max) this.gate.hold('output');
    return this.inner.write(msg).finally(() => {
      if (--this.pending < this.max / 2) this.gate.release('output');
    });
  }
  end(): void {
    this.inner.end();
  }
  dispose(): void {
    this.inner.dispose();
  }
}

/** Hands messages to the connection one per event-loop turn, holding the gate while many wait. */
export class PacedReader implements MessageReader {
  constructor(
    private readonly inner: MessageReader,
    private readonly gate: InputGate,
    private readonly max = MAX_QUEUED_MESSAGES,
  ) {}
  get onError() {
    return this.inner.onError;
  }
  get onClose() {
    return this.inner.onClose;
  }
  get onPartialMessage() {
    return this.inner.onPartialMessage;
  }
  listen(callback: DataCallback): Disposable {
    const queue: Message[] = [];
    let scheduled = false;
    const pump = () => {
      scheduled = false;
      const m = queue.shift();
      if (m) callback(m);
      if (queue.length) {
        scheduled = true;
        setImmediate(pump);
      }
      if (queue.length < this.max / 2) this.gate.release('queue');
    };
    return this.inner.listen((m) => {
      queue.push(m);
      if (queue.length > this.max) this.gate.hold('queue');
      if (!scheduled) {
        scheduled = true;
        setImmediate(pump);
      }
    });
  }
  dispose(): void {
    this.inner.dispose();
  }
}

/** @param onInputEnd stdin ended or closed (the client is gone): the server exits. */
export function makeConnection(onInputEnd: () => void): Connection {
  if (!process.argv.includes('--stdio')) return createConnection(ProposedFeatures.all);
  const gate = new InputGate(process.stdin);
  const connection = createConnection(
    ProposedFeatures.all,
    new PacedReader(new StreamMessageReader(process.stdin), gate),
    new PacedWriter(new StreamMessageWriter(process.stdout), gate),
  );
  // What createConnection does itself for --stdio streams, which it skips when
  // given a reader: end with stdin, and keep console output off the protocol stream.
  process.stdin.on('end', onInputEnd);
  process.stdin.on('close', onInputEnd);
  console.log = (...a: unknown[]) => connection.console.log(format(...a));
  console.info = (...a: unknown[]) => connection.console.info(format(...a));
  console.warn = (...a: unknown[]) => connection.console.warn(format(...a));
  console.error = (...a: unknown[]) => connection.console.error(format(...a));
  return connection;
}
