# tests/e2e/vm.sh: the shell twin of tests/e2e/vm.h, for scripts that boot disks under
# QEMU/TCG (bench/boot-overhead). Source it from bash; one machine at a time.
#
#   VM_WORKDIR=DIR VM_KEY=PRIVATE_KEY      (required: logs go to DIR, SSH uses the key)
#   vm_start NAME DISK [--ovmf] [--registry-port PORT] [--kernel K --initrd I --append ARGS]
#   vm_wait_for REGEX TIMEOUT              prints the seconds from vm_start to the first
#                                          serial line matching REGEX (grep -E)
#   vm_ssh CMD...                          as root, bounded (VM_SSH_TIMEOUT, default 300 s)
#   vm_wait_ssh [TIMEOUT]                  until sshd answers (default 180 s)
#   vm_poweroff                            systemctl poweroff, wait, else kill
#   vm_kill                                for an EXIT trap
# The machine is the one of vm.h: -accel tcg -m 2048 -smp 2, raw virtio disk, SeaBIOS
# (or OVMF on q35), serial console in $VM_WORKDIR/NAME-serial.log, user networking with
# SSH on a free 127.0.0.1 port and, with --registry-port, 127.0.0.1:PORT reachable from
# the guest as 10.0.2.100:5000 (guestfwd, a socat per connection). A failed wait prints
# the last 30 lines of the serial log and returns 1.

VM_PID=
vm_start() {
  local name=$1 disk=$2; shift 2
  local -a extra=() fw=()
  local net reg=
  while [ $# -gt 0 ]; do
    case $1 in
      --ovmf) cp /usr/share/OVMF/OVMF_VARS_4M.fd "$VM_WORKDIR/$name-OVMF_VARS.fd"
              fw=(-machine q35 -drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd
                  -drive "if=pflash,format=raw,unit=1,file=$VM_WORKDIR/$name-OVMF_VARS.fd"); shift ;;
      --registry-port) reg=$2; shift 2 ;;
      --kernel) extra+=(-kernel "$2"); shift 2 ;;
      --initrd) extra+=(-initrd "$2"); shift 2 ;;
      --append) extra+=(-append "$2"); shift 2 ;;
      *) echo "vm_start: unknown option $1" >&2; return 2 ;;
    esac
  done
  VM_SSH_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  net="user,id=n0,hostfwd=tcp:127.0.0.1:$VM_SSH_PORT-:22"
  [ -z "$reg" ] || net+=",guestfwd=tcp:10.0.2.100:5000-cmd:socat STDIO TCP:127.0.0.1:$reg"
  VM_SERIAL=$VM_WORKDIR/$name-serial.log
  : > "$VM_SERIAL"
  VM_T0=$(date +%s.%N)
  qemu-system-x86_64 -accel tcg -m 2048 -smp 2 -nographic -monitor none -serial "file:$VM_SERIAL" \
    -drive "file=$disk,format=raw,if=virtio" "${fw[@]}" \
    -netdev "$net" -device virtio-net-pci,netdev=n0 -device virtio-rng-pci \
    "${extra[@]}" > "$VM_WORKDIR/$name-qemu.log" 2>&1 &
  VM_PID=$!
}

vm_wait_for() {
  local re=$1 deadline=$(( $(date +%s) + $2 ))
  until tr -d '\r' < "$VM_SERIAL" | grep -qE "$re"; do
    if ! kill -0 "$VM_PID" 2>/dev/null || [ "$(date +%s)" -gt "$deadline" ]; then
      echo "vm: no /$re/ on the serial console (QEMU $(kill -0 "$VM_PID" 2>/dev/null && echo running || echo exited));" \
           "last lines of $VM_SERIAL:" >&2
      tail -n 30 "$VM_SERIAL" | tr -d '\r' >&2
      return 1
    fi
    sleep 0.2
  done
  awk -v a="$VM_T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f\n", b - a }'
}

vm_ssh() {
  timeout -k 5 "${VM_SSH_TIMEOUT:-300}" ssh -i "$VM_KEY" -o IdentitiesOnly=yes -o BatchMode=yes \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=5 \
    -p "$VM_SSH_PORT" root@127.0.0.1 "$@"
}

vm_wait_ssh() {
  local deadline=$(( $(date +%s) + ${1:-180} ))
  until VM_SSH_TIMEOUT=20 vm_ssh true 2>/dev/null; do
    if ! kill -0 "$VM_PID" 2>/dev/null || [ "$(date +%s)" -gt "$deadline" ]; then
      echo "vm: sshd in the guest did not answer; last lines of $VM_SERIAL:" >&2
      tail -n 30 "$VM_SERIAL" | tr -d '\r' >&2
      return 1
    fi
    sleep 2
  done
}

vm_poweroff() {
  [ -n "$VM_PID" ] || return 0
  VM_SSH_TIMEOUT=30 vm_ssh systemctl poweroff 2> /dev/null || true
  local i
  for i in $(seq 360); do kill -0 "$VM_PID" 2>/dev/null || break; sleep 0.5; done
  vm_kill
}

vm_kill() {
  [ -n "$VM_PID" ] || return 0
  kill "$VM_PID" 2>/dev/null || true
  wait "$VM_PID" 2>/dev/null || true
  VM_PID=
}
