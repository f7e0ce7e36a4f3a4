// The few file-system calls storage makes, behind one interface, so that tests can inject
// failures (ENOSPC, EIO) without touching a real full disk.

import fs from 'node:fs'

export interface StorageFs {
  open(path: string, flags: string): Promise<number>
  close(fd: number): Promise<void>
  /** Positional read; returns bytes read (short at end of file). */
  read(fd: number, buf: Buffer, offset: number, length: number, position: number): Promise<number>
  /** Positional gathered write; may write fewer bytes than asked (the caller loops). */
  writev(fd: number, bufs: Buffer[], position: number): Promise<number>
  ftruncate(fd: number, length: number): Promise<void>
  fdatasync(fd: number): Promise<void>
  fsize(fd: number): Promise<number>
  /** Size of a file by path, or -1 when it does not exist. */
  statSize(path: string): Promise<number>
  rename(from: string, to: string): Promise<void>
  unlink(path: string): Promise<void>
  readdir(path: string): Promise<string[]>
  mkdir(path: string): Promise<void>
  rm(path: string): Promise<void>
  exists(path: string): Promise<boolean>
  readFile(path: string): Promise<Buffer>
  /** Writes a small file atomically: temp file, fsync, rename. */
  writeFileAtomic(path: string, data: Buffer | string): Promise<void>
  /** fsyncs a directory, making renames and creations in it durable. Optional for injected layers. */
  fsyncDir?(path: string): Promise<void>
}

function cb<T>(f: (done: (err: NodeJS.ErrnoException | null, v: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => f((err, v) => (err ? reject(err) : resolve(v))))
}

export const nodeFs: StorageFs = {
  open: (path, flags) => cb<number>((d) => fs.open(path, flags, 0o644, d)),
  close: (fd) => cb<void>((d) => fs.close(fd, (e) => d(e, undefined))),
  read: (fd, buf, offset, length, position) => cb<number>((d) => fs.read(fd, buf, offset, length, position, d)),
  writev: (fd, bufs, position) => cb<number>((d) => fs.writev(fd, bufs, position, d)),
  ftruncate: (fd, length) => cb<void>((d) => fs.ftruncate(fd, length, (e) => d(e, undefined))),
  fdatasync: (fd) => cb<void>((d) => fs.fdatasync(fd, (e) => d(e, undefined))),
  fsize: (fd) => cb<number>((d) => fs.fstat(fd, (e, st) => d(e, st?.size))),
  statSize: async (path) => {
    try {
      return (await fs.promises.stat(path)).size
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return -1
      throw err
    }
  },
  rename: (from, to) => fs.promises.rename(from, to),
  unlink: (path) => fs.promises.unlink(path),
  readdir: (path) => fs.promises.readdir(path),
  mkdir: async (path) => {
    await fs.promises.mkdir(path, { recursive: true })
  },
  rm: (path) => fs.promises.rm(path, { recursive: true, force: true }),
  exists: async (path) => {
    try {
      await fs.promises.access(path)
      return true
    } catch {
      return false
    }
  },
  readFile: (path) => fs.promises.readFile(path),
  writeFileAtomic: async (path, data) => {
    const tmp = `${path}.tmp`
    const fh = await fs.promises.open(tmp, 'w')
    try {
      await fh.writeFile(data)
      await fh.datasync()
    } finally {
      await fh.close()
    }
    await fs.promises.rename(tmp, path)
  },
  fsyncDir: async (path) => {
    const fh = await fs.promises.open(path, 'r')
    try {
      await fh.sync()
    } catch (err) {
      // Some file systems refuse fsync on a directory; the rename is then as durable as they allow.
      const code = (err as NodeJS.ErrnoException).code
      if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') throw err
    } finally {
      await fh.close()
    }
  },
}

/** True for the errors that mean the disk (not the request) failed. */
export function isStorageErrno(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return code === 'ENOSPC' || code === 'EIO' || code === 'EDQUOT' || code === 'EROFS' || code === 'EBADF'
}

/** Opens a file for positional reads and writes, creating it if needed (never O_APPEND). */
export async function openReadWrite(fs: StorageFs, path: string): Promise<number> {
  try {
    return await fs.open(path, 'r+')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    return fs.open(path, 'w+')
  }
}
