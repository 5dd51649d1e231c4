// SSH public keys for tests, made in-process: an ed25519 key pair in authorized_keys form.
import { generateKeyPairSync } from 'node:crypto';

function sshString(data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  return Buffer.concat([length, data]);
}

/** A fresh `ssh-ed25519 AAAA… comment` line (its private half is dropped). */
export function freshPublicKeyLine(comment = 'test'): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  // The raw 32-byte key is the last 32 bytes of its SPKI DER encoding.
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const blob = Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(raw)]);
  return `ssh-ed25519 ${blob.toString('base64')} ${comment}`;
}
