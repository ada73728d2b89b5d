package placeholder

import "testing"

func TestValid(t *testing.T) {
	for name, want := range map[string]bool{
		"key": true, "_x": true, "Col9": true, "owner_id": true,
		"": false, "9a": false, "a-b": false, "a b": false, "é": false, "a.b": false,
	} {
		if got := Valid(name); got != want {
			t.Errorf("Valid(%q) = %v, want %v", name, got, want)
		}
	}
}
