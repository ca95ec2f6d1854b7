package ipvs

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/mqliang/libipvs"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// SyncRole is a role of the kernel's IPVS connection sync daemon: the
// master multicasts its connection table, the backup receives it, so that
// connections survive a failover. A node may run both at once (each
// director of an active/active pair is master of its own services and
// backup of the other's).
type SyncRole uint32

// The roles, as the kernel numbers them (IP_VS_STATE_*).
const (
	SyncMaster SyncRole = libipvs.IP_VS_STATE_MASTER
	SyncBackup SyncRole = libipvs.IP_VS_STATE_BACKUP
)

func (r SyncRole) String() string {
	switch r {
	case SyncMaster:
		return "master"
	case SyncBackup:
		return "backup"
	}
	return fmt.Sprintf("role-%d", uint32(r))
}

// SyncDaemon is one running sync daemon.
type SyncDaemon struct {
	Role      SyncRole
	Interface string
	SyncID    uint8
}

// libipvs has no sync daemon calls; these speak the IPVS generic netlink
// family directly (include/uapi/linux/ip_vs.h), in the calling thread's
// network namespace, beside the libipvs handle rather than inside a fork.

// StartSync starts the sync daemon of role on iface with syncID. Starting
// one that already runs with the same settings is not an error.
func StartSync(role SyncRole, iface string, syncID uint8) error {
	attrs := daemonAttrs(role)
	attrs.AddRtAttr(int(libipvs.IPVS_DAEMON_ATTR_MCAST_IFN), nl.ZeroTerminated(iface))
	attrs.AddRtAttr(int(libipvs.IPVS_DAEMON_ATTR_SYNC_ID), nl.Uint32Attr(uint32(syncID)))
	_, err := ipvsGenl(libipvs.IPVS_CMD_NEW_DAEMON, 0, attrs)
	if errors.Is(err, syscall.EEXIST) {
		if cur, lerr := SyncDaemons(); lerr == nil {
			for _, d := range cur {
				if d == (SyncDaemon{role, iface, syncID}) {
					return nil
				}
			}
		}
	}
	if err != nil {
		return fmt.Errorf("start ipvs sync %s on %s (syncid %d): %w", role, iface, syncID, err)
	}
	return nil
}

// StopSync stops the sync daemon of role; stopping one that does not run
// is not an error.
func StopSync(role SyncRole) error {
	_, err := ipvsGenl(libipvs.IPVS_CMD_DEL_DAEMON, 0, daemonAttrs(role))
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop ipvs sync %s: %w", role, err)
	}
	return nil
}

// SyncDaemons lists the running sync daemons.
func SyncDaemons() ([]SyncDaemon, error) {
	msgs, err := ipvsGenl(libipvs.IPVS_CMD_GET_DAEMON, unix.NLM_F_DUMP, nil)
	if err != nil {
		return nil, fmt.Errorf("list ipvs sync daemons: %w", err)
	}
	var out []SyncDaemon
	for _, m := range msgs {
		d, ok, err := parseDaemon(m)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, d)
		}
	}
	return out, nil
}

func daemonAttrs(role SyncRole) *nl.RtAttr {
	a := nl.NewRtAttr(libipvs.IPVS_CMD_ATTR_DAEMON, nil)
	a.AddRtAttr(int(libipvs.IPVS_DAEMON_ATTR_STATE), nl.Uint32Attr(uint32(role)))
	return a
}

func ipvsGenl(cmd uint8, flags int, attr *nl.RtAttr) ([][]byte, error) {
	fam, err := netlink.GenlFamilyGet(libipvs.IPVS_GENL_NAME)
	if err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrNoIPVS, err)
	}
	req := nl.NewNetlinkRequest(int(fam.ID), unix.NLM_F_ACK|flags)
	req.AddData(&nl.Genlmsg{Command: cmd, Version: libipvs.IPVS_GENL_VERSION})
	if attr != nil {
		req.AddData(attr)
	}
	return req.Execute(unix.NETLINK_GENERIC, 0)
}

// parseDaemon reads one GET_DAEMON reply: a genl header, then the nested
// IPVS_CMD_ATTR_DAEMON with state, interface and sync id.
func parseDaemon(m []byte) (SyncDaemon, bool, error) {
	const genlHdr = 4
	if len(m) < genlHdr {
		return SyncDaemon{}, false, fmt.Errorf("sync daemon reply: %d bytes", len(m))
	}
	top, err := nl.ParseRouteAttr(m[genlHdr:])
	if err != nil {
		return SyncDaemon{}, false, fmt.Errorf("sync daemon reply: %w", err)
	}
	for _, a := range top {
		if a.Attr.Type&^unix.NLA_F_NESTED != libipvs.IPVS_CMD_ATTR_DAEMON {
			continue
		}
		inner, err := nl.ParseRouteAttr(a.Value)
		if err != nil {
			return SyncDaemon{}, false, fmt.Errorf("sync daemon reply: %w", err)
		}
		var d SyncDaemon
		for _, ia := range inner {
			switch ia.Attr.Type {
			case libipvs.IPVS_DAEMON_ATTR_STATE:
				d.Role = SyncRole(nl.NativeEndian().Uint32(ia.Value))
			case libipvs.IPVS_DAEMON_ATTR_MCAST_IFN:
				d.Interface = string(trimNUL(ia.Value))
			case libipvs.IPVS_DAEMON_ATTR_SYNC_ID:
				d.SyncID = uint8(nl.NativeEndian().Uint32(ia.Value))
			}
		}
		return d, true, nil
	}
	return SyncDaemon{}, false, nil
}

func trimNUL(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

// KernelSync starts and stops the kernel's sync daemons (StartSync,
// StopSync); the daemon uses it through a small interface so that a dry
// run and the tests never touch the kernel.
type KernelSync struct{}

// Start starts the daemon of role.
func (KernelSync) Start(role SyncRole, iface string, id uint8) error {
	return StartSync(role, iface, id)
}

// Stop stops the daemon of role.
func (KernelSync) Stop(role SyncRole) error { return StopSync(role) }
