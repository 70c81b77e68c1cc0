// Reflected IEEE 802.3 polynomial, the CRC-32 used by zip, PNG and zlib.
const POLYNOMIAL = 0xedb88320;

const TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let c = byte;
    for (let bit = 0; bit < 8; bit++) {
      c = c & 1 ? POLYNOMIAL ^ (c >>> 1) : c >>> 1;
    }
    table[byte] = c >>> 0;
  }
  return table;
})();

const encoder = new TextEncoder();

/** CRC-32 of the UTF-8 bytes of `input`, as an unsigned 32-bit integer. */
export function crc32(input: string): number {
  let crc = 0xffffffff;
  for (const byte of encoder.encode(input)) {
    crc = TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}
