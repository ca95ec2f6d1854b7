// Package integration holds tests against a real kernel, built only
// with the "integration" build tag. Each test works in its own network
// namespaces, built with package integration/netlab. The tests that need
// IPVS, which CI's and developers' kernels lack, are built only with the
// "ipvs" tag as well: "make vm" runs that build inside a VM (package
// integration/vm, command integration/cmd/vmrun), "make netns" the other
// on this kernel. Run elsewhere without what they need they skip and say
// why. See README.md.
package integration
