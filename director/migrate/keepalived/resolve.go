package keepalived

import (
	"fmt"
	"strings"
	"time"

	"github.com/lvsd/lvsd/director/migrate"
)

// resolveVersion picks the VRRP version as keepalived does: the
// instance's, else global vrrp_version, else 2; IPv6 always 3.
func (t *translator) resolveVersion(in *migrate.Instance, st *instanceState) {
	in.Version = t.global.version
	if st.version != nil {
		fmt.Sscan(arg(st.version, 0), &in.Version)
	}
	if p, err := parsePrefix(in.VirtualIPs[0]); err == nil && p.Addr().Is6() {
		in.Version = 3
	}
	ai := time.Duration(in.AdvertInterval)
	switch in.Version {
	case 2:
		// RFC 3768 §5.3.7: whole seconds. keepalived truncates.
		if r := ai.Truncate(time.Second); r != ai || r < time.Second {
			in.AdvertInterval = migrate.Duration(max(r, time.Second))
			t.res.Findings.Add(st.node.File, st.node.Line, "advert_int", false,
				fmt.Sprintf("VRRPv2 advertises whole seconds, not %v", ai), "advert_interval "+time.Duration(in.AdvertInterval).String())
		}
	case 3:
		// RFC 5798 §5.2.7: centiseconds.
		if r := ai.Round(10 * time.Millisecond); r != ai {
			in.AdvertInterval = migrate.Duration(max(r, 10*time.Millisecond))
			t.res.Findings.Add(st.node.File, st.node.Line, "advert_int", false,
				fmt.Sprintf("VRRPv3 advertises centiseconds, not %v", ai), "advert_interval "+time.Duration(in.AdvertInterval).String())
		}
	}
}

// resolveAuth keeps simple-text authentication for VRRPv2. keepalived
// ignores authentication in VRRPv3, and lvsd has no IPsec AH.
func (t *translator) resolveAuth(in *migrate.Instance, st *instanceState) {
	if st.auth == nil {
		return
	}
	switch {
	case in.Version == 3:
		t.res.Findings.Add(st.auth.File, st.auth.Line, "authentication", false,
			"VRRPv3 has no authentication (RFC 5798 §9)", "left out; keepalived ignores it in version 3 too")
	case strings.EqualFold(st.authType, "AH"):
		t.res.Findings.Add(st.auth.File, st.auth.Line, "authentication", true,
			"lvsd has no IPsec AH authentication", "left out: the keepalived peer must drop AH before the pair can run half-migrated")
	case st.authPass != "":
		pass := st.authPass
		if len(pass) > 8 {
			pass = pass[:8] // keepalived sends the first 8 bytes
			t.res.Findings.Add(st.auth.File, st.auth.Line, "auth_pass", false, "longer than 8 bytes", "truncated to 8, as keepalived does")
		}
		in.AuthPass = pass
	}
}

// resolveUnicast checks that unicast has what lvsd needs: keepalived
// takes the interface's address when unicast_src_ip is missing, lvsd
// needs it written.
func (t *translator) resolveUnicast(in *migrate.Instance, st *instanceState) {
	u := in.Unicast
	if u == nil {
		return
	}
	if len(u.Peers) == 0 {
		in.Unicast = nil
		if st.unicastPeers != nil {
			t.res.Findings.Add(st.unicastPeers.File, st.unicastPeers.Line, "unicast_peer", true, "no peers", "multicast")
		}
		return
	}
	if u.Source == "" {
		in.Unicast = nil
		t.res.Findings.Add(st.unicastPeers.File, st.unicastPeers.Line, "unicast_peer", true,
			"lvsd needs unicast_src_ip (keepalived takes the interface's address)", "left out: multicast; add unicast_src_ip and import again")
	}
}

// resolveChecksum carries the VRRPv3 IPv4 checksum variant.
func (t *translator) resolveChecksum(in *migrate.Instance, st *instanceState) {
	if in.Version != 3 {
		return
	}
	if p, _ := parsePrefix(in.VirtualIPs[0]); p.Addr().Is6() {
		return
	}
	asV2 := t.global.checksumAsV2
	if st.checksumAsV2 != nil {
		asV2 = *st.checksumAsV2
	}
	switch {
	case asV2:
		in.Checksum = "no-pseudo-header"
	case st.oldUnicastSum && in.Unicast != nil:
		in.Checksum = "legacy-unicast"
	}
}
