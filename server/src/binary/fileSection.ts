/**
 * A DWARF section read from its file range by range (positioned reads) instead of
 * held in memory: vmlinux's .debug_info is 170 MB, of which a whole-image pass
 * needs every unit's header and root DIE and a tenth of the units whole.
 *
 * The file was checked and its ELF header read when it was opened (ObjectStore.load
 * through fs/safeRead); each stretch of reads opens it again the same way
 * (safeOpen: links resolved, a regular file only) and refuses a file whose size or
 * modification time is not the one it was opened at, or that is another file
 * (device and inode), so bytes of two versions of a file are never mixed. The fd is
 * kept for one synchronous stretch of work (a whole-image pass reads thousands of
 * ranges in a loop that never yields) and closed on the next turn of the event loop.
 *
 * Each read returns fresh bytes: attribute blocks are views into them, and a DIE
 * kept past the next read must not see its bytes change.
 */
import { closeSync, fstatSync, readSync } from 'node:fs';
import { safeOpen } from '../fs/safeRead';
import { DwarfError } from './errors';
import { checkInfoRange, type InfoBytes, type InfoSource } from './dwarf/sections';

export interface FileIdentity {
  /** The size and mtime the file had when its ELF header and sections were read. */
  size: number;
  mtimeMs: number;
}

export class FileSectionSource implements InfoSource {
  readonly inMemory = false;
  private fd: number | undefined;
  private inode: { dev: number; ino: number } | undefined;
  /** Bytes read so far (tests and benchmarks: what a pass cost). */
  bytesRead = 0;

  /**
   * `fileOffset` and `size`: where the section lies in the file (its header's
   * sh_offset and sh_size, already checked against the file's size by the ELF reader).
   */
  constructor(
    readonly path: string,
    private readonly fileOffset: number,
    readonly size: number,
    private readonly identity: FileIdentity,
    private readonly section = '.debug_info',
  ) {
    if (fileOffset < 0 || size < 0 || fileOffset + size > identity.size) {
      throw new DwarfError(section, 0, `section [0x${fileOffset.toString(16)}, +0x${size.toString(16)}) outside the file of 0x${identity.size.toString(16)} bytes`);
    }
  }

  read(start: number, end: number): InfoBytes {
    checkInfoRange(start, end, this.size);
    const len = end - start;
    const buf = Buffer.allocUnsafe(len);
    const fd = this.open();
    for (let done = 0; done < len; ) {
      const n = readSync(fd, buf, done, len - done, this.fileOffset + start + done);
      if (n <= 0) throw new DwarfError(this.section, start + done, `${this.path} ended before the section did (was it truncated?)`);
      done += n;
    }
    this.bytesRead += len;
    return { data: new Uint8Array(buf.buffer, buf.byteOffset, len), base: start };
  }

  /** Closes the fd now (it is closed on the next event-loop turn anyway). */
  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      closeSync(fd);
    } catch {
      // Already closed: nothing to release.
    }
  }

  private open(): number {
    if (this.fd !== undefined) return this.fd;
    const { fd, size, mtimeMs } = safeOpen(this.path, { maxBytes: Number.MAX_SAFE_INTEGER });
    try {
      const st = fstatSync(fd);
      const changed =
        size !== this.identity.size || mtimeMs !== this.identity.mtimeMs || st.size !== this.identity.size ||
        (this.inode !== undefined && (st.dev !== this.inode.dev || st.ino !== this.inode.ino));
      if (changed) throw new DwarfError(this.section, 0, `${this.path} changed since it was opened: open it again`);
      this.inode ??= { dev: st.dev, ino: st.ino };
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    this.fd = fd;
    setImmediate(() => this.close()).unref();
    return fd;
  }
}
