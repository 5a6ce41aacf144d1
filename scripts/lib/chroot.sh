# shellcheck shell=bash
# Debian roots for checks that need a whole system of their own (scripts/check-debian13,
# scripts/check-package): created with debootstrap, given the host's network settings, with /proc,
# /sys and /dev mounted. Sourced; the caller sets `die` and calls chroot_unmount_all on exit.

chroot_mounts=()  # mount points, unmounted in reverse order by chroot_unmount_all
chroot_mirror=http://deb.debian.org/debian

# chroot_unmount_under DIR: unmounts whatever is mounted at or below DIR (left by an interrupted run).
chroot_unmount_under() {
  local m
  awk '{print $5}' /proc/self/mountinfo | awk -v d="$1" 'index($0, d "/") == 1 || $0 == d' \
    | sort -r | while read -r m; do umount -l "$m" || true; done
}

# chroot_create SUITE ROOT: a minimal SUITE root at ROOT, built in ROOT.tmp and renamed when
# debootstrap has finished (so an interrupted creation is never taken for a root).
chroot_create() {
  local suite=$1 root=$2
  if ! command -v debootstrap >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap
  fi
  if [ -e "$root.tmp" ]; then
    echo "removing the unfinished $root.tmp"
    chroot_unmount_under "$root.tmp"
    rm -rf --one-file-system "$root.tmp"
  fi
  debootstrap --variant=minbase --include=ca-certificates "$suite" "$root.tmp" "$chroot_mirror"
  chroot_unmount_under "$root.tmp"
  mv "$root.tmp" "$root"
}

# chroot_network ROOT: the host's DNS, CA certificates (TLS may be intercepted), apt and npm proxies.
chroot_network() {
  local root=$1 cas proxy_files proxy_lines npm_lines
  cp -L --remove-destination /etc/resolv.conf "$root/etc/resolv.conf"
  mkdir -p "$root/usr/local/share/ca-certificates"
  shopt -s nullglob
  cas=(/usr/local/share/ca-certificates/*)
  [ "${#cas[@]}" -eq 0 ] || cp -r "${cas[@]}" "$root/usr/local/share/ca-certificates/"
  proxy_files=(/etc/apt/apt.conf.d/*proxy*)
  shopt -u nullglob
  [ "${#proxy_files[@]}" -eq 0 ] || cp "${proxy_files[@]}" "$root/etc/apt/apt.conf.d/"
  proxy_lines=$(cat /etc/apt/apt.conf /etc/apt/apt.conf.d/* 2>/dev/null \
    | grep -iE '^[[:space:]]*Acquire::[A-Za-z]+::Proxy' || true)
  if [ -n "$proxy_lines" ]; then
    printf '%s\n' "$proxy_lines" >"$root/etc/apt/apt.conf.d/99host-proxy"
  else
    rm -f "$root/etc/apt/apt.conf.d/99host-proxy"
  fi
  npm_lines=$(cat "$HOME/.npmrc" /etc/npmrc /usr/etc/npmrc 2>/dev/null \
    | grep -iE '^[[:space:]]*(proxy|https?-proxy|noproxy|registry|cafile|strict-ssl)[[:space:]]*=' \
    | awk -F= '!seen[$1]++' || true)
  if [ -n "$npm_lines" ]; then printf '%s\n' "$npm_lines" >"$root/root/.npmrc"; else rm -f "$root/root/.npmrc"; fi
  # Package scripts must not start services in the root.
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"; chmod +x "$root/usr/sbin/policy-rc.d"
}

# chroot_bind SOURCE TARGET MOUNT-OPTIONS...: mounts and remembers TARGET for chroot_unmount_all.
chroot_bind() { mkdir -p "$2"; mount "${@:3}" "$1" "$2"; chroot_mounts+=("$2"); }

# chroot_mount_system ROOT: /proc, /sys, /dev (rslave, so unmounting never reaches the host's /dev).
chroot_mount_system() {
  chroot_bind proc "$1/proc" -t proc
  chroot_bind sysfs "$1/sys" -t sysfs
  chroot_bind /dev "$1/dev" --rbind; mount --make-rslave "$1/dev"
}

chroot_unmount_all() {
  local i
  for ((i = ${#chroot_mounts[@]} - 1; i >= 0; i--)); do
    umount -R "${chroot_mounts[i]}" 2>/dev/null || umount -R -l "${chroot_mounts[i]}" 2>/dev/null \
      || echo "cannot unmount ${chroot_mounts[i]}" >&2
  done
  chroot_mounts=()
}

# chroot_env: the environment commands get in the root (a clean one, plus the host's proxies).
chroot_env=(HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
  TERM="${TERM:-dumb}" DEBIAN_FRONTEND=noninteractive NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt)
for chroot_var in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
  [ -z "${!chroot_var:-}" ] || chroot_env+=("$chroot_var=${!chroot_var}")
done
unset chroot_var
