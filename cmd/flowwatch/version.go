package main

import (
	"fmt"
	"runtime/debug"
)

// version is set at link time with -ldflags "-X main.version=…".
var version = "dev"

func init() {
	register("version", "print the version", func([]string) int {
		v := version
		if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" && len(s.Value) >= 12 {
					v = "dev-" + s.Value[:12]
				}
			}
		}
		fmt.Println("flowwatch", v)
		return 0
	})
}
