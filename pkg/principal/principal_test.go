package principal

import "testing"

func TestCallerRules(t *testing.T) {
	alice := AsUser(Principal{UserID: "alice"})
	staff := AsUser(Principal{UserID: "staff", Roles: []string{"merchant"}})
	for _, tc := range []struct {
		name                string
		c                   Caller
		read, act, merchant bool
	}{
		{"the owner", alice, true, true, false},
		{"merchant staff", staff, true, false, true},
		{"another customer", AsUser(Principal{UserID: "bob"}), false, false, false},
		{"a system call", System, true, true, true},
		{"an empty user id owns nothing", AsUser(Principal{}), false, false, false},
	} {
		owner := "alice"
		if tc.name == "an empty user id owns nothing" {
			owner = ""
		}
		if got := tc.c.MayRead(owner); got != tc.read {
			t.Errorf("%s: MayRead = %v, want %v", tc.name, got, tc.read)
		}
		if got := tc.c.MayActFor(owner); got != tc.act {
			t.Errorf("%s: MayActFor = %v, want %v", tc.name, got, tc.act)
		}
		if got := tc.c.IsMerchant(); got != tc.merchant {
			t.Errorf("%s: IsMerchant = %v, want %v", tc.name, got, tc.merchant)
		}
	}
	if r := ParseRoles(" merchant,,x "); len(r) != 2 || r[0] != "merchant" || r[1] != "x" {
		t.Fatalf("ParseRoles: %q", r)
	}
}
