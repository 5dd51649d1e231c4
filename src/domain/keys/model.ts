/** An SSH public key of a user, as its owner sees it. */
export interface SshKey {
  readonly id: string;
  readonly userId: string;
  readonly name: string;
  /** `ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`, … */
  readonly type: string;
  /** `<type> <base64>`: the key without options or comment. */
  readonly publicKey: string;
  /** `SHA256:<base64, no padding>` of the key blob, as `ssh-keygen -lf` prints it. */
  readonly fingerprint: string;
  readonly createdAt: string;
}
