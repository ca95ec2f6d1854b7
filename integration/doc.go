// Package integration holds tests against a real kernel, built only
// with the "integration" build tag. Each test works in its own network
// namespace. The IPVS tests need a kernel with ip_vs, which CI and
// developer machines lack: "make test" runs them inside a VM (package
// integration/vm, command integration/cmd/vmrun); elsewhere they skip
// and say why. See README.md.
package integration
