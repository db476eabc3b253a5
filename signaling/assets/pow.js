// Ferry's proof-of-work CAPTCHA, the page side (the server side is signaling/src/abuse/captcha.rs).
//
// The server sends {"id", "salt", "bits", "expires"}; find a decimal nonce such that
// SHA-256(ASCII(salt) || ASCII(nonce)) starts with `bits` zero bits, then send back
// {"id", "nonce"}. That takes about 2^bits hashes on average.
//
// WebCrypto's digest() costs a promise per call (about 75k hashes/s in Node 20), too slow for
// 2^18 tries in a fraction of a second, so candidates are hashed by the one-block SHA-256 below
// (salt and nonce fit one 64-byte block) and the winner is confirmed with crypto.subtle.digest
// before it is returned; { engine: "subtle" } searches with WebCrypto alone. crypto.subtle needs
// a secure context (https or localhost). No dependencies.
//
//   import { solve } from "./pow.js";
//   const nonce = await solve(challenge);   // then POST {id: challenge.id, nonce}

/** Leading zero bits of a byte array. */
export function leadingZeroBits(bytes) {
  let n = 0;
  for (const b of bytes) {
    if (b !== 0) {
      return n + Math.clz32(b) - 24;
    }
    n += 8;
  }
  return n;
}

/**
 * Finds a nonce (a decimal string) for `challenge` ({salt, bits}).
 * Options: `engine` "js" (default) or "subtle"; `signal` an AbortSignal; `start` the first
 * nonce tried (default 0); `batch` candidates between yields to the event loop.
 */
export async function solve(challenge, { engine = "js", signal, start = 0, batch } = {}) {
  const subtle = globalThis.crypto && globalThis.crypto.subtle;
  if (!subtle) {
    throw new Error("WebCrypto is not available (the page must be served over https)");
  }
  const salt = new TextEncoder().encode(challenge.salt);
  const bits = challenge.bits;
  if (engine === "js" && salt.length + 16 <= 55) {
    const nonce = await searchJs(salt, bits, start, batch || 16384, signal);
    if (leadingZeroBits(await subtleHash(subtle, salt, nonce)) >= bits) {
      return nonce;
    }
    // Unreachable unless this file's SHA-256 is wrong: fall back to WebCrypto.
  }
  return searchSubtle(subtle, salt, bits, start, batch || 512, signal);
}

async function searchSubtle(subtle, salt, bits, start, batch, signal) {
  for (let base = start; base < Number.MAX_SAFE_INTEGER; base += batch) {
    checkAbort(signal);
    const pending = [];
    for (let i = 0; i < batch; i++) {
      pending.push(subtleHash(subtle, salt, String(base + i)));
    }
    const digests = await Promise.all(pending);
    for (let i = 0; i < batch; i++) {
      if (leadingZeroBits(digests[i]) >= bits) {
        return String(base + i);
      }
    }
  }
  throw new Error("no nonce found");
}

async function searchJs(salt, bits, start, batch, signal) {
  const block = new Uint8Array(64);
  block.set(salt);
  const w = new Int32Array(64);
  const out = new Int32Array(8);
  for (let base = start; base < Number.MAX_SAFE_INTEGER; base += batch) {
    checkAbort(signal);
    for (let n = base; n < base + batch; n++) {
      const nonce = String(n);
      const len = salt.length + nonce.length;
      for (let j = 0; j < nonce.length; j++) {
        block[salt.length + j] = nonce.charCodeAt(j);
      }
      block.fill(0, len);
      block[len] = 0x80;
      block[62] = (len * 8) >>> 8;
      block[63] = (len * 8) & 0xff;
      compress(block, w, out);
      if (zeroBits(out, bits)) {
        return nonce;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 0)); // let the page breathe
  }
  throw new Error("no nonce found");
}

function checkAbort(signal) {
  if (signal && signal.aborted) {
    throw new Error("aborted");
  }
}

async function subtleHash(subtle, salt, nonce) {
  const buf = new Uint8Array(salt.length + nonce.length);
  buf.set(salt);
  for (let j = 0; j < nonce.length; j++) {
    buf[salt.length + j] = nonce.charCodeAt(j);
  }
  return new Uint8Array(await subtle.digest("SHA-256", buf));
}

/** Whether the digest words `h` start with `bits` zero bits. */
function zeroBits(h, bits) {
  let i = 0;
  for (; bits >= 32; bits -= 32) {
    if (h[i++] !== 0) {
      return false;
    }
  }
  return bits === 0 || h[i] >>> (32 - bits) === 0;
}

// FIPS 180-4 §6.2: SHA-256 of one padded 64-byte block into `out` (8 big-endian words).
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const H0 = new Int32Array([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

function compress(block, w, out) {
  for (let i = 0; i < 16; i++) {
    const j = i * 4;
    w[i] = (block[j] << 24) | (block[j + 1] << 16) | (block[j + 2] << 8) | block[j + 3];
  }
  for (let i = 16; i < 64; i++) {
    const x = w[i - 15];
    const y = w[i - 2];
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
  }
  let a = H0[0], b = H0[1], c = H0[2], d = H0[3], e = H0[4], f = H0[5], g = H0[6], h = H0[7];
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (h + S1 + ch + K[i] + w[i]) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (S0 + maj) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  out[0] = a + H0[0];
  out[1] = b + H0[1];
  out[2] = c + H0[2];
  out[3] = d + H0[3];
  out[4] = e + H0[4];
  out[5] = f + H0[5];
  out[6] = g + H0[6];
  out[7] = h + H0[7];
}

/** SHA-256 of a short message (at most 55 bytes) with the one-block code above; for tests. */
export function sha256Short(bytes) {
  if (bytes.length > 55) {
    throw new Error("one block only");
  }
  const block = new Uint8Array(64);
  block.set(bytes);
  block[bytes.length] = 0x80;
  block[62] = (bytes.length * 8) >>> 8;
  block[63] = (bytes.length * 8) & 0xff;
  const out = new Int32Array(8);
  compress(block, new Int32Array(64), out);
  const digest = new Uint8Array(32);
  const view = new DataView(digest.buffer);
  for (let i = 0; i < 8; i++) {
    view.setInt32(i * 4, out[i]);
  }
  return digest;
}
