// Package placeholder says what a {name} placeholder of the policy may be
// called, the same for object locations and processor requests.
package placeholder

// Valid reports whether name is a placeholder name: a letter or "_"
// followed by letters, digits or "_" (a column name that needs no quotes,
// or "key").
func Valid(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
