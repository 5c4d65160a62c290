package main

import (
	"flag"
	"fmt"
	"testing"
)

func TestReorderFlags(t *testing.T) {
	fs := flag.NewFlagSet("q", flag.ContinueOnError)
	format := fs.String("format", "table", "")
	progress := fs.Bool("progress", false, "")
	if err := fs.Parse(reorderFlags(fs, []string{"stats count(*)", "a.log", "--format", "csv", "--progress", "-", "b.log"})); err != nil {
		t.Fatal(err)
	}
	if *format != "csv" || !*progress || fmt.Sprint(fs.Args()) != "[stats count(*) a.log - b.log]" {
		t.Errorf("format %s progress %v args %v", *format, *progress, fs.Args())
	}
}
