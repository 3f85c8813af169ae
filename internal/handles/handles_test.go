package handles

import (
	"strings"
	"testing"
)

func TestHandles(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{OfBoard("rv-virt"), "rv-virt"},
		{OfTarget("rv-virt", "citest"), "rv-virt.citest"},
		{OfTarget("rv-virt", "python"), "rv-virt.python"},
		{OfArch("risc-v"), "arch.risc-v"},
		{OfTarget("esp32s3-devkit", "knsh_64"), "esp32s3-devkit.knsh_64"},
		{OfBoard("STM32F4Discovery"), "stm32f4discovery"},
		{OfBoard("a+b"), "a_b"},
		{OfBoard("a++b"), "a_b"},
		{OfBoard("a.b"), "a_b"},
		{OfBoard("-x-"), "_x_"},
		{OfBoard(""), "_"},
		{OfBoard("ünï"), "_n_"},
		{OfTarget("arch", "nsh"), "arch..nsh"},
		{OfTarget("Arch", "nsh"), "arch..nsh"},
		{OfTarget("archer", "nsh"), "archer.nsh"},
		{OfArch("x86_64"), "arch.x86_64"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
		if !Valid(c.want) {
			t.Errorf("%q is not valid", c.want)
		}
	}
	if Valid(strings.Repeat("a", MaxLength+1)) || !Valid(strings.Repeat("a", MaxLength)) {
		t.Error("MaxLength is not the limit")
	}
}

// FuzzHandles checks the mapping's promises for any labels: every handle
// is a Mastodon username (up to its length), and the kinds never collide.
func FuzzHandles(f *testing.F) {
	f.Add("rv-virt", "citest", "risc-v")
	f.Add("arch", "risc-v", "risc-v")
	f.Add("-", ".", ":")
	f.Fuzz(func(t *testing.T, board, config, arch string) {
		b, tg, a := OfBoard(board), OfTarget(board, config), OfArch(arch)
		for _, h := range []string{b, tg, a} {
			if !valid.MatchString(h) {
				t.Fatalf("%q (from %q, %q, %q) breaks Mastodon's rule", h, board, config, arch)
			}
		}
		if strings.Contains(b, ".") {
			t.Fatalf("board handle %q has a dot", b)
		}
		if tg == a || strings.HasPrefix(tg, archPrefix) && !strings.HasPrefix(tg, "arch..") {
			t.Fatalf("target %q collides with the architectures (%q)", tg, a)
		}
		if strings.Count(a, ".") != 1 || !strings.HasPrefix(a, archPrefix) {
			t.Fatalf("architecture handle %q", a)
		}
		// A target's board part is its board's handle.
		if !strings.HasPrefix(tg, b+".") {
			t.Fatalf("target %q does not start with its board %q", tg, b)
		}
	})
}
