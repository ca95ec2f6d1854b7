// Package vm runs a command inside a throw-away Debian kernel under
// qemu, so that tests can use kernel features the host lacks (IPVS).
//
// The guest boots Debian's own kernel (the package linux-image-amd64
// depends on, downloaded once with apt-get into a cache) from a small
// busybox initramfs, mounts the host's root read-only over virtio 9p
// with a tmpfs overlay on top, and switch_roots into it: the guest sees
// every host binary. A second, writable 9p share brings the command's
// output and exit status back. integration/README.md explains the
// steps, the cache and the environment variables.
//
// The package is Linux only.
package vm
