// Package flowsim generates realistic default-format VPC flow log lines for
// the store's benchmarks and the import benchmark, standing in for
// internal/flowgen so that the store's figures do not move when the
// generator does.
package flowsim

import (
	"fmt"
	"math/rand/v2"
	"strconv"
)

// Sim generates realistic default-format (v2) flow log lines: many
// interfaces, Zipf-distributed peers, mostly TCP to a few service ports,
// about 13% REJECT and 1% NODATA, windows of 60 s. It stands in for
// internal/flowgen in this package's benchmarks.
type Sim struct {
	rng    *rand.Rand
	zipf   *rand.Zipf
	ENIs   []ENI
	peers  []uint32
	now    int64 // seconds
	perSec int
	n      int
}

// ENI is one simulated interface.
type ENI struct {
	ID string
	IP uint32
}

// New returns a simulator of interfaces ENIs, deterministic for seed.
func New(seed uint64, interfaces int) *Sim {
	rng := rand.New(rand.NewPCG(seed, 99))
	s := &Sim{rng: rng, now: 1_793_491_200, perSec: 1000}
	for i := 0; i < interfaces; i++ {
		s.ENIs = append(s.ENIs, ENI{ID: fmt.Sprintf("eni-%017x", rng.Uint64()>>4), IP: 10<<24 | uint32(rng.IntN(1<<16))<<8 | uint32(1+rng.IntN(250))})
	}
	for i := 0; i < 100_000; i++ {
		if rng.IntN(3) == 0 {
			s.peers = append(s.peers, 10<<24|uint32(rng.IntN(1<<24)))
		} else {
			s.peers = append(s.peers, uint32(rng.Uint32()))
		}
	}
	s.zipf = rand.NewZipf(rng, 1.2, 1, uint64(len(s.peers)-1))
	return s
}

func appendIP(b []byte, ip uint32) []byte {
	for sh := 24; sh >= 0; sh -= 8 {
		b = strconv.AppendUint(b, uint64(ip>>uint(sh)&255), 10)
		if sh > 0 {
			b = append(b, '.')
		}
	}
	return b
}

var servicePorts = []int{443, 443, 443, 80, 22, 53, 123, 3306, 5432, 6379, 8080}

// Next appends one record to buf[:0] and returns the interface index, start second and line of one record.
func (s *Sim) Next(buf []byte) (int, int64, []byte) {
	s.n++
	if s.n%s.perSec == 0 {
		s.now++
	}
	rng := s.rng
	ei := int(float64(len(s.ENIs)) * rng.Float64() * rng.Float64()) // busy interfaces busier
	e := &s.ENIs[ei]
	start := s.now - s.now%60 - int64(rng.IntN(3))*60
	end := start + 60 + int64(rng.IntN(3))
	b := append(buf[:0], "2 123456789012 "...)
	b = append(b, e.ID...)
	if rng.IntN(100) == 0 {
		b = append(b, " - - - - - - - "...)
		b = strconv.AppendInt(b, start, 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, end, 10)
		b = append(b, " - NODATA"...)
		return ei, start, b
	}
	peer := s.peers[s.zipf.Uint64()]
	svc := servicePorts[rng.IntN(len(servicePorts))]
	eph := 32768 + rng.IntN(28232)
	proto := 6
	if svc == 53 || svc == 123 {
		proto = 17
	}
	src, dst, sp, dp := e.IP, peer, eph, svc
	if rng.IntN(2) == 0 {
		src, dst, sp, dp = peer, e.IP, svc, eph
	}
	pk := 1 + int(rng.ExpFloat64()*20)
	by := pk * (40 + rng.IntN(1400))
	b = append(b, ' ')
	b = appendIP(b, src)
	b = append(b, ' ')
	b = appendIP(b, dst)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(sp), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(dp), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(proto), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(pk), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(by), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, start, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, end, 10)
	if rng.IntN(100) < 13 {
		b = append(b, " REJECT OK"...)
	} else {
		b = append(b, " ACCEPT OK"...)
	}
	return ei, start, b
}
