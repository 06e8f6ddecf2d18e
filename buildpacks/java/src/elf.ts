import { open } from 'node:fs/promises';

/** DT_NEEDED and DT_SONAME of a 64-bit little-endian ELF file, or undefined when the file is not one. */
export async function elfDynamic(file: string): Promise<{ needed: string[]; soname?: string } | undefined> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(64);
    const { bytesRead } = await fh.read(head, 0, 64, 0);
    if (bytesRead < 64 || head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2 || head[5] !== 1) return undefined;
    const { size } = await fh.stat();
    const b = Buffer.alloc(size);
    await fh.read(b, 0, size, 0);
    const shoff = Number(b.readBigUInt64LE(0x28));
    const shentsize = b.readUInt16LE(0x3a);
    const shnum = b.readUInt16LE(0x3c);
    const section = (i: number) => {
      const h = shoff + i * shentsize;
      return { type: b.readUInt32LE(h + 4), offset: Number(b.readBigUInt64LE(h + 0x18)), size: Number(b.readBigUInt64LE(h + 0x20)), link: b.readUInt32LE(h + 0x28) };
    };
    const needed: string[] = [];
    let soname: string | undefined;
    for (let i = 0; i < shnum; i++) {
      const s = section(i);
      if (s.type !== 6) continue; // SHT_DYNAMIC
      const strtab = section(s.link);
      const str = (off: number) => {
        const start = strtab.offset + off;
        return b.subarray(start, b.indexOf(0, start)).toString('latin1');
      };
      for (let at = s.offset; at + 16 <= s.offset + s.size; at += 16) {
        const tag = Number(b.readBigInt64LE(at));
        const val = Number(b.readBigUInt64LE(at + 8));
        if (tag === 0) break;
        if (tag === 1) needed.push(str(val));
        if (tag === 14) soname = str(val);
      }
    }
    return soname ? { needed, soname } : { needed };
  } finally {
    await fh.close();
  }
}
