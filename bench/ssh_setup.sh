# Sourced by the benchmarks that compare with OpenSSH: a host key, a client
# key and an sshd_config in $BENCH_DIR/ssh, for an sshd on 127.0.0.1 that
# accepts only that key, and the client options that go with it.
#
#   make_ssh_config     (then start /usr/sbin/sshd -f "$BENCH_DIR/ssh/sshd_config" ...)
make_ssh_config() {
  mkdir -p "$BENCH_DIR/ssh" /run/sshd
  ssh-keygen -q -t ed25519 -N "" -f "$BENCH_DIR/ssh/hostkey"
  ssh-keygen -q -t ed25519 -N "" -f "$BENCH_DIR/ssh/id"
  cp "$BENCH_DIR/ssh/id.pub" "$BENCH_DIR/ssh/authorized_keys"
  cat > "$BENCH_DIR/ssh/sshd_config" <<CONF
ListenAddress 127.0.0.1
HostKey $BENCH_DIR/ssh/hostkey
AuthorizedKeysFile $BENCH_DIR/ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
Subsystem sftp internal-sftp
CONF
  SSH_OPTS=(-i "$BENCH_DIR/ssh/id" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
    -o LogLevel=error)
  SSH_USER=$(id -un)
}
