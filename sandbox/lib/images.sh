#!/usr/bin/env bash
# The sandbox's container images, built from Debian packages (no registry exists here) and cached
# in $FRAGALYSIS_CACHE/images as docker-save archives that `ctr images import` reads.
# Each image holds exactly its contract (README "Images"), nothing the scripts should not rely on:
#   pause     the pod sandbox process (sandbox/images/pause.c, static)
#   busybox   a static /bin/busybox with its applets: the stand-in app pods, and jobs.gzipImage
#   kubectl   sh, cp and kubectl: envDump.image (its kubectl is copied into the env-dump Job)
#   awscli    bash, the aws CLI, coreutils, findutils, NO gzip: jobs.image, like amazon/aws-cli
#   postgres  PostgreSQL 15 with bash and gzip: the databases and their backup CronJobs
# Sourced after common.sh with the toolchain on PATH. build_images sets SANDBOX_IMAGE_<NAME>
# (the reference to use) and SANDBOX_IMAGE_ARCHIVES (what import_images loads).
set -euo pipefail

readonly IMAGES_DIR="$SANDBOX_REPO/sandbox/images"
readonly DEBIAN_MIRROR="${SANDBOX_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

# The recipe of each image, hashed into its tag: a change of recipe builds a new image.
recipe() {
  case "$1" in
  pause) cat "$IMAGES_DIR/pause.c" ;;
  busybox) printf 'busybox-static %s\n' "$(dpkg-query -W -f='${Version}' busybox-static)" ;;
  kubectl) printf 'sh cp kubectl %s\n' "$(kubectl_binary | xargs sha256sum | cut -c1-16)" ;;
  awscli) printf 'debootstrap minbase bookworm +python3 -gzip, aws CLI %s v2\n' "$(aws --version 2>&1)" ;;
  postgres) printf 'debootstrap minbase bookworm +postgresql-15 v1\n' ;;
  esac
}

# The cluster's own kubectl (built with the control plane), copied into the kubectl image.
kubectl_binary() { printf '%s/kubectl\n' "$(bash "$SANDBOX_REPO/sandbox/toolchain.sh" --print-path)"; }

# debian_rootfs DIR PACKAGES...: a minimal Debian userland plus PACKAGES (apt resolves their
# dependencies; debootstrap's own resolver misses virtual packages), without docs or apt lists.
debian_rootfs() {
  local dir="$1" base="$1.base"
  shift
  debootstrap --variant=minbase bookworm "$base" "$DEBIAN_MIRROR" >"$dir.log" 2>&1 ||
    die "debootstrap failed; see $dir.log"
  # debootstrap leaves its /proc mounted when interrupted; never archive the host's /proc.
  umount "$base/proc" 2>/dev/null || true
  mv "$base" "$dir"
  # No service may start inside the build (postgresql's postinst would try).
  printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
  chmod +x "$dir/usr/sbin/policy-rc.d"
  DEBIAN_FRONTEND=noninteractive chroot "$dir" apt-get install -y -qq --no-install-recommends "$@" \
    >>"$dir.log" 2>&1 || die "apt-get install $* in the image failed; see $dir.log"
  rm -rf "$dir/usr/sbin/policy-rc.d" "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* \
    "$dir"/usr/share/doc "$dir"/usr/share/man "$dir"/usr/share/locale "$dir"/proc/* "$dir"/sys/*
}

# busybox_rootfs DIR APPLET...: a static busybox with links for the named applets (all if none).
busybox_rootfs() {
  local dir="$1" applet applets
  shift
  mkdir -p "$dir/bin" "$dir/tmp" "$dir/etc"
  cp /bin/busybox "$dir/bin/busybox"
  if (($# == 0)); then mapfile -t applets < <(/bin/busybox --list) && set -- "${applets[@]}"; fi
  for applet in "$@"; do [[ "$applet" == busybox ]] || ln -s busybox "$dir/bin/$applet"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$dir/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
}

# copy_aws_cli DIR: this machine's aws CLI v1 (awscli, botocore and their pure-Python
# dependencies) into DIR's python3, with an `aws` entry point.
copy_aws_cli() {
  local dir="$1" python site
  python="$(aws_python)"
  [[ -x "$python" ]] || die "cannot find the interpreter of the machine's aws CLI (got '$python')"
  site="$dir/usr/local/lib/python3.11/dist-packages"
  mkdir -p "$site"
  "$python" - "$site" <<'PY' || die "copying the aws CLI into the image failed"
import importlib.metadata as md, os, shutil, sys
site = sys.argv[1]
for name in ["awscli", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3",
             "docutils", "rsa", "pyasn1", "colorama", "six"]:
    dist = md.distribution(name)
    for f in dist.files:
        src = dist.locate_file(f)
        if "__pycache__" in f.parts or not os.path.isfile(src):
            continue
        dst = os.path.join(site, str(f))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(src, dst)
PY
  printf '#!/usr/bin/python3\nimport sys\nfrom awscli.clidriver import main\nsys.exit(main())\n' >"$dir/usr/local/bin/aws"
  chmod 755 "$dir/usr/local/bin/aws"
}

# aws_python: the interpreter in the shebang of the machine's aws CLI (behind pyenv's shim or not).
aws_python() {
  local aws
  aws="$(pyenv which aws 2>/dev/null || command -v aws)"
  sed -n '1s/^#!//p' "$aws"
}

rootfs() {
  local name="$1" dir="$2"
  case "$name" in
  pause)
    mkdir -p "$dir"
    gcc -static -Os -o "$dir/pause" "$IMAGES_DIR/pause.c" || die "building pause.c failed"
    ;;
  busybox) busybox_rootfs "$dir" ;;
  kubectl)
    busybox_rootfs "$dir" sh cp
    mkdir -p "$dir/usr/local/bin"
    cp "$(kubectl_binary)" "$dir/usr/local/bin/kubectl"
    ;;
  awscli)
    # Debian's awscli (2.9) predates conditional writes (put-object --if-none-match), which the
    # copies rely on; the machine's own aws CLI v1 does not, so its pure-Python packages go in.
    debian_rootfs "$dir" python3 python3-yaml
    copy_aws_cli "$dir"
    # amazon/aws-cli (the default jobs.image) has no gzip: neither has this stand-in, so the
    # copy Job must bring its own (jobs.gzipImage), as it does in production.
    rm -f "$dir"/usr/bin/gzip "$dir"/usr/bin/gunzip "$dir"/usr/bin/zcat "$dir"/bin/gzip
    ;;
  postgres)
    debian_rootfs "$dir" postgresql-15
    # The package made a cluster of its own; the pods make theirs in their data volume.
    rm -rf "$dir/var/lib/postgresql/15/main" "$dir/etc/postgresql/15/main"
    ;;
  esac
}

# image_config NAME: the image's config (entrypoint, PATH) as docker-save JSON, minus rootfs.
image_cmd() {
  case "$1" in
  pause) printf '["/pause"]' ;;
  postgres) printf '["bash"]' ;;
  *) printf '["sh"]' ;;
  esac
}

# archive NAME REF ROOTFS OUT: a docker-save archive of one layer holding ROOTFS, tagged REF.
archive() {
  local name="$1" ref="$2" dir="$3" out="$4" work diff
  work="$(mktemp -d)"
  tar -C "$dir" --numeric-owner --xattrs -cf "$work/layer.tar" .
  diff="$(sha256sum "$work/layer.tar" | cut -d' ' -f1)"
  cat >"$work/config.json" <<JSON
{"architecture":"amd64","os":"linux",
 "config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":$(image_cmd "$name"),"WorkingDir":"/"},
 "rootfs":{"type":"layers","diff_ids":["sha256:$diff"]}}
JSON
  printf '[{"Config":"config.json","RepoTags":["%s"],"Layers":["layer.tar"]}]\n' "$ref" >"$work/manifest.json"
  tar -C "$work" -cf "$out.part" manifest.json config.json layer.tar
  mv "$out.part" "$out"
  rm -rf "$work"
}

# archive_ref FILE: the reference an archive is tagged with (name-tag.tar -> sandbox.local/name:tag).
archive_ref() {
  local base
  base="$(basename -- "$1" .tar)"
  printf 'sandbox.local/%s:%s\n' "${base%-*}" "${base##*-}"
}

# build_images: every image present in the cache (built once per recipe; debootstrap ~1 min).
build_images() {
  local cache="${FRAGALYSIS_CACHE:-$HOME/.cache/fragalysis-relocation}/images" name tag ref out dir
  mkdir -p "$cache"
  SANDBOX_IMAGE_ARCHIVES=()
  for name in pause busybox kubectl awscli postgres; do
    tag="$(recipe "$name" | sha256sum | cut -c1-12)"
    ref="sandbox.local/$name:$tag"
    out="$cache/$name-$tag.tar"
    if [[ ! -f "$out" ]]; then
      say "building image $ref"
      dir="$cache/work-$name"
      [[ ! -d "$dir" ]] || { umount "$dir/proc" 2>/dev/null || true; rm -rf "$dir"; }
      rootfs "$name" "$dir"
      archive "$name" "$ref" "$dir" "$out"
      rm -rf "$dir" "$dir.log"
      find "$cache" -maxdepth 1 -name "$name-*.tar" ! -name "$name-$tag.tar" -delete
    fi
    printf -v "SANDBOX_IMAGE_${name^^}" '%s' "$ref"
    export "SANDBOX_IMAGE_${name^^}"
    SANDBOX_IMAGE_ARCHIVES+=("$out")
  done
}

# import_images CTR...: loads every archive into containerd's k8s.io namespace (skips present ones).
import_images() {
  local archive present
  present="$("$@" -n k8s.io images ls -q)"
  for archive in "${SANDBOX_IMAGE_ARCHIVES[@]}"; do
    grep -qxF "$(archive_ref "$archive")" <<<"$present" && continue
    "$@" -n k8s.io images import "$archive" >>"$SANDBOX_RUN/images.log" 2>&1 ||
      die "importing $archive into containerd failed; see $SANDBOX_RUN/images.log"
  done
}
