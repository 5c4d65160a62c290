package inventory

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"testing"
	"time"
)

func pfx(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, x := range s {
		out = append(out, netip.MustParsePrefix(x))
	}
	return out
}

// fakeHost is a host with loopback, two addressed interfaces in one
// prefix's neighbourhood, a link-local-only bridge and a second prefix.
func fakeHost() HostInfo {
	return HostInfo{MachineID: "3d1219c7c4c5404aaa1f6d2a48adfda4", Hostname: "web-1", NICs: []NIC{
		{Name: "eth1", Index: 3, MAC: "02:00:00:00:00:02", MTU: 1500, Up: true, Addrs: pfx("10.1.2.7/24", "fe80::2/64")},
		{Name: "lo", Index: 1, MTU: 65536, Up: true, Loopback: true, Addrs: pfx("127.0.0.1/8", "::1/128")},
		{Name: "eth0", Index: 2, MAC: "02:00:00:00:00:01", MTU: 9001, Up: true, Addrs: pfx("10.1.1.5/24", "10.1.1.6/24", "fd00::5/64", "fe80::1/64")},
		{Name: "br0", Index: 4, MAC: "02:00:00:00:00:03", Addrs: pfx("fe80::3/64")},
	}}
}

var idRE = regexp.MustCompile(`^(i|eni|subnet|vpc)-[0-9a-f]{17}$`)

func TestIDsAreStableAndWellFormed(t *testing.T) {
	inst := InstanceID("3d1219c7c4c5404aaa1f6d2a48adfda4")
	if inst != InstanceID("3d1219c7c4c5404aaa1f6d2a48adfda4\n") {
		t.Fatal("a trailing newline in /etc/machine-id changed the instance id")
	}
	for _, id := range []string{inst, InterfaceID(inst, "eth0", "02:00:00:00:00:01"), SubnetID("vpc-0123456789abcdef0", "10.1.1.0/24"), VPCID("seed")} {
		if !idRE.MatchString(id) {
			t.Errorf("id %q is not prefix + 17 hex digits", id)
		}
	}
	// Same name, other MAC, or other host: other interface.
	a := InterfaceID(inst, "eth0", "02:00:00:00:00:01")
	if a != InterfaceID(inst, "eth0", "02:00:00:00:00:01") {
		t.Fatal("interface id not deterministic")
	}
	if a == InterfaceID(inst, "eth0", "02:00:00:00:00:09") || a == InterfaceID(InstanceID("other"), "eth0", "02:00:00:00:00:01") {
		t.Fatal("interface id ignores the MAC or the instance")
	}
	if InterfaceID(inst, "eth0", "02:00:00:00:00:AA") != InterfaceID(inst, "eth0", "02:00:00:00:00:aa") {
		t.Fatal("MAC case changed the interface id")
	}
	for s, want := range map[string]bool{"vpc-0123abcd": true, "vpc-0123456789abcdef0": true, "vpc-0123456789ABCDEF0": false, "vpc-012": false, "subnet-0123abcd": false} {
		if ValidID(PrefixVPC, s) != want {
			t.Errorf("ValidID(vpc-, %q) = %v", s, !want)
		}
	}
}

func newInv(t *testing.T, cfg Config) *Inventory {
	t.Helper()
	inv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func TestSetHostBuildsInstanceInterfacesSubnets(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	inv := newInv(t, Config{Seed: "install", Region: "eu-west-1", Now: func() time.Time { return now }})
	inst, err := inv.SetHost(fakeHost())
	if err != nil {
		t.Fatal(err)
	}
	if inst.ID != InstanceID("3d1219c7c4c5404aaa1f6d2a48adfda4") || inst.AZ != "eu-west-1a" || inst.VPCID != VPCID("install") {
		t.Fatalf("instance %+v", inst)
	}
	ifs := inv.InstanceInterfaces(inst.ID)
	// lo skipped (loopback), br0 skipped (link-local only); eth0 first by
	// OS index.
	if len(ifs) != 2 || ifs[0].Name != "eth0" || ifs[1].Name != "eth1" || ifs[0].DeviceIndex != 0 || ifs[1].DeviceIndex != 1 {
		t.Fatalf("interfaces %+v", ifs)
	}
	e0 := ifs[0]
	if e0.ID != InterfaceID(inst.ID, "eth0", "02:00:00:00:00:01") || e0.PrimaryIP() != netip.MustParseAddr("10.1.1.5") ||
		len(e0.PrivateIPs) != 2 || len(e0.IPv6) != 1 || e0.IPv6[0] != netip.MustParseAddr("fd00::5") || e0.MTU != 9001 {
		t.Fatalf("eth0 %+v", e0)
	}
	if e0.SubnetID != SubnetID(inst.VPCID, "10.1.1.0/24") || e0.AttachTime != now {
		t.Fatalf("eth0 subnet/attach %+v", e0)
	}
	if inst.PrivateIP != e0.PrimaryIP() || inst.SubnetID != e0.SubnetID {
		t.Fatalf("instance primary %+v", inst)
	}
	subs := inv.Subnets()
	if len(subs) != 2 {
		t.Fatalf("subnets %+v", subs)
	}
	for _, s := range subs {
		switch s.ID {
		case e0.SubnetID:
			if s.CIDR.String() != "10.1.1.0/24" || s.IPv6CIDR.String() != "fd00::/64" {
				t.Errorf("subnet %+v", s)
			}
		case ifs[1].SubnetID:
			if s.CIDR.String() != "10.1.2.0/24" || s.IPv6CIDR.IsValid() {
				t.Errorf("subnet %+v", s)
			}
		default:
			t.Errorf("unexpected subnet %+v", s)
		}
	}
	if v := inv.VPCs(); len(v) != 1 || v[0].CIDR.String() != "10.1.0.0/16" || len(v[0].CIDRs) != 1 {
		t.Fatalf("vpc %+v", v)
	}

	// Loopback when asked for.
	h := fakeHost()
	h.IncludeLoopback = true
	inv.SetHost(h)
	if n := len(inv.InstanceInterfaces(inst.ID)); n != 3 {
		t.Fatalf("with loopback: %d interfaces", n)
	}
}

func TestDeterministicAcrossInventories(t *testing.T) {
	a := newInv(t, Config{Seed: "s"})
	b := newInv(t, Config{Seed: "s"})
	h := fakeHost()
	a.SetHost(h)
	// The same NICs in another order give the same ids and device indexes.
	h.NICs[0], h.NICs[2] = h.NICs[2], h.NICs[0]
	b.SetHost(h)
	x, y := a.Interfaces(), b.Interfaces()
	if len(x) != len(y) {
		t.Fatal("different interface counts")
	}
	for k := range x {
		if x[k].ID != y[k].ID || x[k].SubnetID != y[k].SubnetID || x[k].DeviceIndex != y[k].DeviceIndex {
			t.Fatalf("%+v != %+v", x[k], y[k])
		}
	}
}

func TestInterfacesUnderAndRemoteHosts(t *testing.T) {
	inv := newInv(t, Config{VPCID: "vpc-0a1b2c3d4e5f67890"})
	local, _ := inv.SetHost(fakeHost())
	// An agent's host with an interface in the same prefix as eth0.
	remote, err := inv.SetHost(HostInfo{InstanceID: "i-0123456789abcdef0", Hostname: "db-1", Remote: true, AZ: "us-east-1b", NICs: []NIC{
		{Name: "ens5", Index: 2, MAC: "02:00:00:00:01:01", Up: true, Addrs: pfx("10.1.1.9/24")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if remote.ID != "i-0123456789abcdef0" || !remote.Remote || remote.AZ != "us-east-1b" {
		t.Fatalf("remote %+v", remote)
	}
	all := inv.InterfacesUnder("vpc-0a1b2c3d4e5f67890")
	if len(all) != 3 {
		t.Fatalf("vpc covers %d interfaces", len(all))
	}
	eth0, _ := inv.InterfaceByName(local.ID, "eth0")
	sub := inv.InterfacesUnder(eth0.SubnetID)
	if len(sub) != 2 || (sub[0].InstanceID == sub[1].InstanceID) {
		t.Fatalf("subnet covers %+v", sub)
	}
	if one := inv.InterfacesUnder(eth0.ID); len(one) != 1 || one[0].ID != eth0.ID {
		t.Fatalf("eni covers %+v", one)
	}
	if got := inv.InterfacesUnder(remote.ID); len(got) != 1 || got[0].Name != "ens5" {
		t.Fatalf("instance covers %+v", got)
	}
	for _, id := range []string{"vpc-00000000000000000", "subnet-00000000000000000", "eni-00000000000000000", "fl-00000000000000000"} {
		if len(inv.InterfacesUnder(id)) != 0 || inv.Exists(id) {
			t.Errorf("%s should cover nothing", id)
		}
	}
	if !inv.Exists(eth0.SubnetID) || !inv.Exists(eth0.ID) || !inv.Exists(remote.ID) || !inv.Exists("vpc-0a1b2c3d4e5f67890") {
		t.Fatal("Exists misses known resources")
	}

	if !inv.RemoveHost(remote.ID) || inv.RemoveHost(remote.ID) {
		t.Fatal("RemoveHost")
	}
	if len(inv.InterfacesUnder(eth0.SubnetID)) != 1 {
		t.Fatal("removed host's interface still listed")
	}
}

func TestChangeNotification(t *testing.T) {
	now := time.Unix(1000, 0)
	inv := newInv(t, Config{Now: func() time.Time { return now }})
	ch, cancel := inv.Subscribe()
	defer cancel()
	inv.SetHost(fakeHost())
	v := inv.Version()
	select {
	case <-ch:
	default:
		t.Fatal("no notification after SetHost")
	}
	// The same host again is no change; attach times survive a change.
	now = now.Add(time.Hour)
	inv.SetHost(fakeHost())
	if inv.Version() != v {
		t.Fatal("an unchanged host bumped the version")
	}
	h := fakeHost()
	h.NICs = append(h.NICs, NIC{Name: "wg0", Index: 9, Up: true, Addrs: pfx("10.9.0.1/32")})
	inst, _ := inv.SetHost(h)
	if inv.Version() == v {
		t.Fatal("a new interface did not bump the version")
	}
	<-ch
	for _, i := range inv.InstanceInterfaces(inst.ID) {
		want := time.Unix(1000, 0).UTC()
		if i.Name == "wg0" {
			want = now.UTC()
		}
		if !i.AttachTime.Equal(want) {
			t.Errorf("%s attach time %v, want %v", i.Name, i.AttachTime, want)
		}
	}
	if !inst.LaunchTime.Equal(time.Unix(1000, 0)) {
		t.Errorf("launch time moved: %v", inst.LaunchTime)
	}
}

func TestConfigValidation(t *testing.T) {
	if _, err := New(Config{VPCID: "vpc-xyz"}); err == nil {
		t.Fatal("bad --vpc-id accepted")
	}
	inv := newInv(t, Config{})
	if _, err := inv.SetHost(HostInfo{InstanceID: "i-nothex"}); err == nil {
		t.Fatal("bad --instance-id accepted")
	}
	if _, err := LocalHost("i-bad"); err == nil {
		t.Fatal("LocalHost accepted a bad instance id")
	}
}

func TestLocalDiscovery(t *testing.T) {
	h, err := LocalHost("")
	if err != nil {
		t.Fatal(err)
	}
	inv := newInv(t, Config{})
	if _, err := inv.SetHost(h); err != nil {
		t.Fatal(err)
	}
	for _, i := range inv.Interfaces() {
		if i.Name == "lo" {
			t.Fatal("loopback discovered by default")
		}
		if !idRE.MatchString(i.ID) || !idRE.MatchString(i.SubnetID) {
			t.Fatalf("bad ids %+v", i)
		}
	}
}

func TestRefreshFollowsInterfaces(t *testing.T) {
	inv := newInv(t, Config{})
	h := fakeHost()
	results := make(chan HostInfo, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		inv.Refresh(ctx, time.Millisecond, nil, func() (HostInfo, error) {
			select {
			case r := <-results:
				return r, nil
			default:
				return HostInfo{}, errors.New("nothing new")
			}
		})
		close(done)
	}()
	ch, stop := inv.Subscribe()
	defer stop()
	results <- h
	<-ch
	if n := len(inv.Interfaces()); n != 2 {
		t.Fatalf("%d interfaces after the first refresh", n)
	}
	// eth1 goes away.
	h.NICs = h.NICs[1:]
	results <- h
	<-ch
	if got := inv.Interfaces(); len(got) != 1 || got[0].Name != "eth0" {
		t.Fatalf("after eth1 left: %+v", got)
	}
	cancel()
	<-done
}

func TestAZID(t *testing.T) {
	for az, want := range map[string]string{
		"us-east-1a": "use1-az1", "us-west-2c": "usw2-az3", "eu-central-1b": "euc1-az2", "ap-southeast-2a": "apse2-az1",
		"ap-northeast-1d": "apne1-az4", "sa-east-1a": "sae1-az1", "lab": "lab", "x": "x", "us-east-1": "us-east-1",
	} {
		if got := AZID(az); got != want {
			t.Errorf("AZID(%q) = %q, want %q", az, got, want)
		}
	}
	inv := newInv(t, Config{Region: "eu-west-1", AZ: "eu-west-1b"})
	inst, _ := inv.SetHost(fakeHost())
	if inst.AZID != "euw1-az2" || inv.Interfaces()[0].AZID != "euw1-az2" || inv.Subnets()[0].AZID != "euw1-az2" {
		t.Fatalf("az ids %+v", inst)
	}
	if l, ok := inv.LocalInstance(); !ok || l.ID != inst.ID {
		t.Fatalf("local instance %+v", l)
	}
}

func TestVPCBlocks(t *testing.T) {
	inv := newInv(t, Config{})
	// The local host: eth0 in 192.168.7.0/24 (primary), docker0 in
	// 172.17.0.0/16; an agent adds 10.0.1.0/24, a /8 wider than a /16 and
	// another prefix inside an existing block.
	inv.SetHost(HostInfo{MachineID: "m", NICs: []NIC{
		{Name: "eth0", Index: 2, MAC: "02:00:00:00:00:01", Addrs: pfx("192.168.7.10/24")},
		{Name: "docker0", Index: 3, MAC: "02:00:00:00:00:02", Addrs: pfx("172.17.0.1/16")},
	}})
	inv.SetHost(HostInfo{InstanceID: "i-0123456789abcdef0", Remote: true, NICs: []NIC{
		{Name: "a", Index: 1, MAC: "02:00:00:00:01:01", Addrs: pfx("10.0.1.5/24")},
		{Name: "b", Index: 2, MAC: "02:00:00:00:01:02", Addrs: pfx("11.0.0.5/8")},
		{Name: "c", Index: 3, MAC: "02:00:00:00:01:03", Addrs: pfx("192.168.200.5/24")},
	}})
	v := inv.VPCs()[0]
	if v.CIDR.String() != "192.168.0.0/16" || fmt.Sprint(v.CIDRs) != "[192.168.0.0/16 172.17.0.0/16 10.0.0.0/16 11.0.0.0/8]" {
		t.Fatalf("blocks %v (primary %v)", v.CIDRs, v.CIDR)
	}
	if got := addBlock(pfxList("10.1.0.0/16", "10.2.0.0/16"), netip.MustParsePrefix("10.0.0.0/8")); fmt.Sprint(got) != "[10.0.0.0/8]" {
		t.Fatalf("a wider block replaces the ones it holds: %v", got)
	}
}

func pfxList(s ...string) []netip.Prefix { return pfx(s...) }
