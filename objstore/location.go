package objstore

import (
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/lethe-project/lethe/internal/placeholder"
)

// Scheme names the kind of store a location lives in.
type Scheme string

const (
	// SchemeS3 is an S3 (or S3-compatible: MinIO, Ceph, R2) bucket.
	SchemeS3 Scheme = "s3"
	// SchemeFile is a local filesystem path.
	SchemeFile Scheme = "file"
)

// Location is a validated location template from the policy, such as
// "s3://app-uploads/users/{key}/" or "file:///var/lib/app/{key}.png".
// A template that ends in "/" names every object under a prefix; any other
// template names exactly one object. Build one with [ParseLocation].
type Location struct {
	raw    string
	scheme Scheme
	bucket string  // empty for file://
	parts  []piece // the key (s3) or absolute path (file), split at placeholders
	prefix bool
}

// piece is a literal run of text or, when name is set, a placeholder.
type piece struct {
	text string
	name string
}

// ParseLocation parses and validates a location template. Placeholders are
// written {name}; {key} is the subject key and any other name is a column of
// the subject's row. Every template must hold at least one placeholder, so it
// can never name a whole bucket, a whole directory or an object shared by all
// subjects.
func ParseLocation(template string) (Location, error) {
	loc := Location{raw: template}
	fail := func(format string, args ...any) (Location, error) {
		return Location{}, fmt.Errorf("location %q: %s", template, fmt.Sprintf(format, args...))
	}
	scheme, rest, ok := strings.Cut(template, "://")
	if !ok {
		return fail("missing scheme, want s3://bucket/... or file:///path/...")
	}
	var keyTemplate string
	switch Scheme(scheme) {
	case SchemeS3:
		loc.scheme = SchemeS3
		bucket, key, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return fail("missing bucket name after s3://")
		}
		if strings.ContainsAny(bucket, "{}") {
			return fail("bucket %q must not hold a placeholder", bucket)
		}
		if key == "" {
			return fail("missing object key or prefix after the bucket: a location may never be a whole bucket")
		}
		if strings.HasPrefix(key, "/") {
			return fail("object key starts with \"/\"")
		}
		loc.bucket, keyTemplate = bucket, key
	case SchemeFile:
		loc.scheme = SchemeFile
		if !strings.HasPrefix(rest, "/") {
			return fail("file location must be an absolute path, as in file:///var/lib/app/{key}/")
		}
		keyTemplate = rest
	default:
		return fail("unsupported scheme %q, want s3 or file", scheme)
	}
	parts, err := parsePieces(keyTemplate)
	if err != nil {
		return fail("%v", err)
	}
	loc.parts = parts
	loc.prefix = strings.HasSuffix(keyTemplate, "/")
	if len(loc.Placeholders()) == 0 {
		return fail("no placeholder such as {key}: the location would be the same for every subject")
	}
	if err := checkSegments(keyTemplate, loc.scheme); err != nil {
		return fail("%v", err)
	}
	return loc, nil
}

// checkSegments rejects "." and ".." path segments and empty segments in the
// literal part of a template, which could climb out of the intended tree.
func checkSegments(keyTemplate string, scheme Scheme) error {
	segs := strings.Split(strings.TrimSuffix(keyTemplate, "/"), "/")
	if scheme == SchemeFile {
		segs = segs[1:] // leading "/" of an absolute path
	}
	for _, s := range segs {
		switch s {
		case "":
			return fmt.Errorf("empty path segment (\"//\")")
		case ".", "..":
			return fmt.Errorf("path segment %q is not allowed", s)
		}
	}
	return nil
}

// parsePieces splits a template into literal text and {name} placeholders.
// Any "{" or "}" that is not part of a well-formed placeholder is an error.
func parsePieces(s string) ([]piece, error) {
	var out []piece
	for s != "" {
		open := strings.IndexAny(s, "{}")
		if open < 0 {
			out = append(out, piece{text: s})
			break
		}
		if s[open] == '}' {
			return nil, fmt.Errorf("unmatched \"}\"")
		}
		if open > 0 {
			out = append(out, piece{text: s[:open]})
		}
		end := strings.IndexByte(s[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf("unclosed placeholder %q", s[open:])
		}
		name := s[open+1 : open+end]
		if !placeholder.Valid(name) {
			return nil, fmt.Errorf("malformed placeholder {%s}: want {key} or {column_name}", name)
		}
		out = append(out, piece{name: name})
		s = s[open+end+1:]
	}
	return out, nil
}

// String returns the template as written in the policy. It holds no
// personal data and is what errors and logs name.
func (l Location) String() string { return l.raw }

// Scheme returns the store the location lives in.
func (l Location) Scheme() Scheme { return l.scheme }

// IsPrefix reports whether the template names every object under a prefix
// (it ends in "/") rather than one object.
func (l Location) IsPrefix() bool { return l.prefix }

// Placeholders returns the sorted, distinct placeholder names in the template,
// so a policy can check that each is "key" or a column of the table.
func (l Location) Placeholders() []string {
	seen := map[string]bool{}
	var names []string
	for _, p := range l.parts {
		if p.name != "" && !seen[p.name] {
			seen[p.name] = true
			names = append(names, p.name)
		}
	}
	sort.Strings(names)
	return names
}

// Root returns the fixed part of the template before its first placeholder,
// as a prefix location: for "s3://app-uploads/users/{key}/" that is every
// object under "users/" in app-uploads. Jobs that look for leftovers across
// all subjects list it with [PrefixLister].
func (l Location) Root() Resolved {
	var fixed string
	if len(l.parts) > 0 && l.parts[0].name == "" {
		fixed = l.parts[0].text
	}
	return Resolved{Template: l.raw, Scheme: l.scheme, Bucket: l.bucket, Key: fixed, Prefix: true, rootDir: l.rootDir()}
}

// rootDir is, for a file template, the directory its fixed text names
// before the first placeholder: "/srv/uploads" for
// "file:///srv/uploads/u-{key}/". Empty for S3.
func (l Location) rootDir() string {
	if l.scheme != SchemeFile || len(l.parts) == 0 || l.parts[0].name != "" {
		return ""
	}
	fixed := l.parts[0].text
	i := strings.LastIndex(fixed, "/")
	if i <= 0 {
		return "/"
	}
	return fixed[:i]
}

// Resolve fills the placeholders with the subject's values. A value that is
// missing, empty, "." or "..", or holds "/", "\" or a control character is an
// error, and so is a "." or ".." path segment that values make with the
// template's text or with each other, so no value can turn the location
// into a parent prefix or directory. Dots inside a segment ("john..doe")
// are harmless. Errors name the placeholder, never the value.
func (l Location) Resolve(values map[string]string) (Resolved, error) {
	var b strings.Builder
	for _, p := range l.parts {
		if p.name == "" {
			b.WriteString(p.text)
			continue
		}
		v, ok := values[p.name]
		if !ok {
			return Resolved{}, fmt.Errorf("location %s: no value for {%s}", l.raw, p.name)
		}
		if err := CheckValue(v); err != nil {
			return Resolved{}, fmt.Errorf("location %s: value for {%s} %w", l.raw, p.name, err)
		}
		b.WriteString(v)
	}
	key := b.String()
	for _, seg := range strings.Split(key, "/") {
		if seg == "." || seg == ".." {
			// The template's own segments are checked when it is parsed:
			// the values made this one.
			return Resolved{}, fmt.Errorf("location %s: the values make a %q path segment", l.raw, seg)
		}
	}
	if l.scheme == SchemeFile {
		// Values hold no "/" and make no "." or ".." segment, so cleaning
		// changes nothing a value controls; it keeps the trailing slash
		// off before adding it back.
		key = path.Clean(key)
		if l.prefix {
			key += "/"
		}
	}
	return Resolved{Template: l.raw, Scheme: l.scheme, Bucket: l.bucket, Key: key, Prefix: l.prefix, resolved: true,
		rootDir: l.rootDir()}, nil
}

// Match is the reverse of [Location.Resolve]: it reports whether an object
// key (S3) or path (file) lies at this template for some subject and, if so,
// returns the placeholder values. Each value runs up to the next occurrence of
// the literal text after it and never holds "/". A job that finds leftovers
// under [Location.Root] uses it to learn whose they are.
func (l Location) Match(key string) (map[string]string, bool) {
	values := map[string]string{}
	rest := key
	for i, p := range l.parts {
		if p.name == "" {
			if !strings.HasPrefix(rest, p.text) {
				return nil, false
			}
			rest = rest[len(p.text):]
			continue
		}
		end := len(rest)
		if i+1 < len(l.parts) {
			next := l.parts[i+1].text
			if next == "" {
				return nil, false // {a}{b}: ambiguous
			}
			end = strings.Index(rest, next)
			if end < 0 {
				return nil, false
			}
		} else if l.prefix {
			return nil, false // unreachable: a prefix template ends in "/"
		}
		v := rest[:end]
		if CheckValue(v) != nil {
			return nil, false
		}
		if old, dup := values[p.name]; dup && old != v {
			return nil, false
		}
		values[p.name] = v
		rest = rest[end:]
	}
	if rest != "" && !l.prefix {
		return nil, false
	}
	return values, true
}

// CheckValue returns an error if v cannot safely fill a placeholder. The
// error does not repeat the value.
func CheckValue(v string) error {
	switch {
	case v == "":
		return fmt.Errorf("is empty")
	case v == "." || v == "..":
		return fmt.Errorf("is %q, a path segment that names a directory itself or its parent", v)
	case strings.ContainsAny(v, `/\`):
		return fmt.Errorf("holds a path separator")
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("holds a control character")
		}
	}
	return nil
}

// Resolved is a location for one subject: a single object or every object
// under a prefix. Its Key holds the subject's values, so it is personal
// data: log and report Template instead.
type Resolved struct {
	// Template is the policy template the location came from.
	Template string
	// Scheme is the store the location lives in.
	Scheme Scheme
	// Bucket is the S3 bucket; empty for file locations.
	Bucket string
	// Key is the object key or key prefix (S3), or the absolute file or
	// directory path (file); a prefix ends in "/" unless it is a Root.
	Key string
	// Prefix is true when Key names every object under it.
	Prefix bool

	// resolved is set by [Location.Resolve]: only such a location may be
	// deleted, never a [Location.Root] or a hand-made value.
	resolved bool
	// rootDir is returned by [Resolved.RootDir].
	rootDir string
}

// RootDir is, for a file location, the directory named by the template's
// fixed text before its first placeholder ("/srv/uploads" for
// "file:///srv/uploads/{key}/"). It holds no subject value. A store must
// treat a missing RootDir as an error, never as an empty location: it is
// what a volume that is not mounted looks like. Empty for S3 locations and
// for hand-made values.
func (r Resolved) RootDir() string { return r.rootDir }

// CheckDeletable returns an error unless r came from [Location.Resolve], so
// a Root (a whole tree shared by all subjects) can be listed but never
// deleted by mistake. Every [Store] calls it before deleting.
func (r Resolved) CheckDeletable() error {
	if !r.resolved {
		return fmt.Errorf("location %s: refusing to delete a location not resolved for one subject", r.Template)
	}
	return nil
}

// URL returns the resolved location as a URL, such as
// "s3://app-uploads/users/42/". It holds personal data.
func (r Resolved) URL() string {
	u := url.URL{Scheme: string(r.Scheme), Host: r.Bucket, Path: r.Key}
	if r.Scheme == SchemeS3 {
		u.Path = "/" + r.Key
	}
	return u.String()
}

// Contains reports whether an object key (S3) or path (file) is at the
// location: under the prefix, or equal to the single object.
func (r Resolved) Contains(key string) bool {
	if r.Prefix {
		return strings.HasPrefix(key, r.Key)
	}
	return key == r.Key
}
